"""Drafting an evaluation suite from a collection: one question per section, by the model.

Sections are taken round-robin over the documents so that a suite shorter than the collection
still covers every document. Each draft is structured output (a question and the short facts
that answer it); a draft whose facts are not in the section word for word is dropped, since
the model made them up. The lines are a draft for a person to review, marked ``"kind":
"synth"``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agentlab.memory import KnowledgeBase, MemoryFilter

__all__ = [
    "Draft",
    "SourceSection",
    "collection_sections",
    "draft_question",
    "draft_suite",
    "spread",
    "write_suite",
]

_MIN_SECTION_CHARS = 80  # shorter sections (a title, a stray line) hold no question
_SECTION_CHARS = 2400  # what the model reads of a section


@dataclass(frozen=True)
class SourceSection:
    source: str
    heading: str
    text: str


class Draft(BaseModel):
    """A question a reader of the section can answer, and the exact facts that answer it."""

    question: str = Field(max_length=200, description="a question the section answers")
    expect: list[str] = Field(
        min_length=1,
        max_length=2,
        description="one or two short facts (a name, number or date) copied word for word "
        "from the section that a correct answer must contain",
    )


_PROMPT = (
    "You write test questions about a user's documents. Given one section, write one specific "
    "question that the section answers, as a user would ask it without seeing the section, "
    "and the short facts that answer it, copied exactly from the section (a name, number, date "
    "or short phrase of at most five words)."
)


def collection_sections(kb: KnowledgeBase, collection: str) -> list[SourceSection]:
    """The sections of ``collection``'s documents, in document order: the chunks under each
    heading path joined again (whatever the chunking; overlapping windows repeat a little)."""
    done = kb.catalog.done(collection)
    chunks = kb.store.list(MemoryFilter(namespace=collection), limit=None)
    grouped: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
    for chunk in chunks:
        meta = chunk.metadata
        if meta.get("doc") not in done:
            continue
        key = (str(meta["source"]), str(meta["doc"]), str(meta.get("heading", "")))
        heading = key[2]
        text = chunk.text.removeprefix(f"{heading}\n") if heading else chunk.text
        grouped.setdefault(key, []).append((int(chunk.id.rsplit("-", 1)[1]), text))
    ordered = sorted(grouped.items(), key=lambda item: (item[0][0], min(n for n, _ in item[1])))
    return [
        SourceSection(source, heading, "\n".join(text for _, text in sorted(pieces)))
        for (source, _, heading), pieces in ordered
    ]


def spread(sections: Iterable[SourceSection]) -> list[SourceSection]:
    """Usable sections in round-robin order over their documents: the first section of each
    document, then the second of each, and so on."""
    by_source: dict[str, list[SourceSection]] = {}
    for section in sections:
        if len(section.text.strip()) >= _MIN_SECTION_CHARS:
            by_source.setdefault(section.source, []).append(section)
    rounds = zip_longest(*by_source.values())
    return [section for batch in rounds for section in batch if section is not None]


def draft_question(model: BaseChatModel, section: SourceSection) -> Draft | None:
    """The model's draft for ``section``, or ``None`` when its facts are not in the text."""
    where = section.source + (f" (section {section.heading})" if section.heading else "")
    text = " ".join(section.text.split())[:_SECTION_CHARS]
    drafted = model.with_structured_output(Draft).invoke(
        [SystemMessage(_PROMPT), HumanMessage(f"Section of {where}:\n{text}")]
    )
    draft = drafted if isinstance(drafted, Draft) else Draft.model_validate(drafted)
    facts = [fact.strip() for fact in draft.expect if fact.strip()]
    if not draft.question.strip() or not facts:
        return None
    if not all(fact.casefold() in text.casefold() for fact in facts):
        return None
    return Draft(question=draft.question.strip(), expect=facts)


def draft_suite(
    sections: Sequence[SourceSection],
    model: BaseChatModel,
    n: int,
    *,
    on_draft: Callable[[int, int, dict[str, Any] | None], None] | None = None,
) -> list[dict[str, Any]]:
    """Up to ``n`` suite lines ``{"id", "task", "expect", "sources", "kind": "synth"}`` from
    ``sections`` (spread over the documents, one model call each, repeats dropped).
    ``on_draft(tried, n, line)`` hears each section tried (``line`` ``None`` when dropped)."""
    lines: list[dict[str, Any]] = []
    asked: set[str] = set()
    for section in spread(sections):
        if len(lines) >= n:
            break
        draft = draft_question(model, section)
        line = None
        if draft is not None and draft.question.casefold() not in asked:
            asked.add(draft.question.casefold())
            line = {
                "id": f"synth-{len(lines) + 1:03d}", "task": draft.question,
                "expect": draft.expect, "sources": [section.source], "kind": "synth",
            }  # fmt: skip
            lines.append(line)
        if on_draft is not None:
            on_draft(len(lines), n, line)
    return lines


def write_suite(path: Path, lines: Sequence[dict[str, Any]]) -> None:
    """Write ``lines`` as JSON lines, atomically: a reader sees the old file or the new one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.writelines(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
