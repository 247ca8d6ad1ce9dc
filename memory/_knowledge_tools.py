"""The user's documents as a tool: ``search_knowledge(query)`` returns cited passages.

Each passage comes with its source id, ``[offices.md#Offices > Oslo]``, and the model is asked
to cite the ids it uses, so an answer can be traced back to the documents (and an evaluation
can read which sources a run retrieved, :func:`cited_passages`). When nothing in the documents
matches the query's words, the tool says so plainly: a small model told "not found" says it
does not know instead of answering from its own memory.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool, StructuredTool

from agentlab.memory._knowledge import KnowledgeBase, Passage, rewrite_query

__all__ = [
    "CITE_REQUEST",
    "NOT_FOUND",
    "CitedPassage",
    "cited_passages",
    "format_passages",
    "knowledge_tools",
]

CITE_REQUEST = "Passages from the user's documents; cite those you use by their [file#heading] id:"
NOT_FOUND = "not found in the documents"
_PASSAGE_CHARS = 1200  # one passage never crowds the others out of the tool-output budget
_BLOCK = re.compile(r"^\[([^\[\]#\n]+)(?:#([^\[\]\n]*))?\] ", re.MULTILINE)


@dataclass(frozen=True)
class CitedPassage:
    """A passage as a search observation showed it: where it is from, and its text."""

    source: str
    heading: str
    text: str


def format_passages(
    passages: Sequence[Passage], query: str, unmentioned: Sequence[str] = ()
) -> str:
    """The observation for ``passages``: a request to cite, then one ``[id] text`` block per
    passage. Passages the keyword index did not match are no evidence: with none matched the
    observation is :data:`NOT_FOUND` (and why), so the model does not guess. Words of the
    query that no document contains (``unmentioned``) are named before the passages: a near
    miss (a similar product's price) reads like an answer to a small model otherwise."""
    if not any(p.matched for p in passages):
        return (
            f"{NOT_FOUND}: no passage mentions {query!r}. Tell the user the documents do not "
            "say; do not answer from memory."
        )
    note = []
    if unmentioned:  # before the passages, where cited_passages does not read it as theirs
        words = ", ".join(repr(w) for w in unmentioned)
        note.append(f"No document mentions {words}. If the question is about that, answer "
                    f'exactly: "{NOT_FOUND}".')  # fmt: skip
    blocks = [f"{p.cite} {_clip(' '.join(p.text.split()))}" for p in passages]
    return "\n\n".join([*note, CITE_REQUEST, *blocks])


def _clip(text: str) -> str:
    return text if len(text) <= _PASSAGE_CHARS else text[: _PASSAGE_CHARS - 1].rstrip() + "…"


def cited_passages(observation: str) -> list[CitedPassage]:
    """The passages of a ``search_knowledge`` observation, in its order ([] for "not found")."""
    starts = list(_BLOCK.finditer(observation))
    found = []
    for number, match in enumerate(starts):
        end = starts[number + 1].start() if number + 1 < len(starts) else len(observation)
        text = observation[match.end() : end].strip()
        found.append(CitedPassage(match.group(1), match.group(2) or "", text))
    return found


def knowledge_tools(
    kb: KnowledgeBase, collection: str, *, model: BaseChatModel | None = None, k: int = 4
) -> list[BaseTool]:
    """``search_knowledge(query)`` over ``collection`` of ``kb``: the ``k`` best passages, each
    with its source id. With ``model`` the query's rewrites by the model are searched too
    (multi-query), at the price of a model call per search. Read-only in approval terms."""

    def search_knowledge(query: str) -> str:
        """Search the user's own documents (handbooks, notes, manuals, policies) for passages
        about the query. Use it for anything the user's documents may say.

        Args:
            query: what to look for, in a few words
        """
        rewrites = rewrite_query(model, query) if model is not None else []
        passages = kb.search(query, collection=collection, k=k, rewrites=rewrites)
        return format_passages(passages, query, kb.unmentioned(query, collection))

    return [StructuredTool.from_function(search_knowledge)]
