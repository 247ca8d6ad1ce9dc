"""What an agent remembers, as one object: memories, episodes and facts under one folder.

Before a run, :meth:`AgentMemory.recall_block` picks the memories most relevant to the task,
within a token bound, for the stable head of the prompt; after it, :meth:`record_run` writes
the episode.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from agentlab.config import Retrieval, Settings
from agentlab.memory._embeddings import embeddings_from_settings, release
from agentlab.memory._episodic import EPISODE, Episode, EpisodicMemory
from agentlab.memory._facts import FactStore
from agentlab.memory._records import Hit, Memory
from agentlab.memory._store import MemoryFilter, MemoryStore

__all__ = ["RECALL_HEADING", "AgentMemory"]

# Worded against the protocol's rule that facts come from tools: without it the small model
# calls a lookup tool and ignores what the user told it.
RECALL_HEADING = (
    "Known from earlier conversations with this user (answer from these directly when they "
    "cover the task; they override rule 1):"
)
# "Remember: X", "please note that X", "keep in mind X": X is stored as said, whatever the model
# answers, so an explicit request to remember never depends on a tool call by a small model.
_REMEMBER = re.compile(
    r"^\s*(?:please\s+)?(?:(?:can|could|would) you\s+|i want you to\s+|you should\s+)?"
    r"(?:please\s+)?(?:remember|memorize|memorise|note|keep in mind|don't forget|do not forget)"
    r"(?:\s+that|\s+this|\s+the following)?\s*[:,-]?\s+(?P<fact>\S.*?)\s*\??$",
    re.IGNORECASE | re.DOTALL,
)


@dataclass
class AgentMemory:
    store: MemoryStore
    episodes: EpisodicMemory
    facts: FactStore
    namespace: str = "default"
    mode: Retrieval = "hybrid"
    recall_k: int = 4

    @classmethod
    def open(
        cls,
        path: Path,
        embeddings: Embeddings,
        *,
        chroma_url: str | None = None,
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> AgentMemory:
        store = MemoryStore(path, embeddings, chroma_url=chroma_url, clock=clock)
        episodic = {k: options.pop(k) for k in ("half_life_s", "capacity") if k in options}
        return cls(
            store,
            EpisodicMemory(store, **episodic),
            FactStore(path / "facts.sqlite", clock=clock),
            **options,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> AgentMemory:
        return cls.open(
            settings.memory_path,
            embeddings_from_settings(settings),
            chroma_url=settings.memory_url,
            half_life_s=settings.memory_half_life_days * 86400.0,
            capacity=settings.memory_capacity,
            namespace=settings.memory_namespace,
            mode=settings.retrieval,
        )

    def close(self) -> None:
        self.store.close()
        self.facts.close()
        release(self.store.embeddings)

    def note_request(self, task: str) -> Memory | None:
        """Store what ``task`` explicitly asks to remember ("Remember: ..."), if it does."""
        found = _REMEMBER.match(task)
        if found is None:
            return None
        fact = found["fact"]
        # the same request twice (or a run resumed after a crash) keeps one note
        key = hashlib.sha256(f"{self.namespace}\n{fact}".encode()).hexdigest()[:24]
        return self.store.add(fact, id=f"note-{key}", namespace=self.namespace, kind="note",
                              importance=0.8, metadata={"source": "user request"})  # fmt: skip

    def recall(self, query: str, k: int | None = None) -> list[Hit]:
        """Episodes (scored with decay) and other memories relevant to ``query``, best first.

        Only memories both retrievers agree on (each ranks it in its top 3; in dense or sparse
        mode, the top 2 of that one): an unrelated memory in the prompt misleads a small model
        more than a missing one, which the ``recall`` tool can still find.
        """
        k = k or self.recall_k
        episodes = self.episodes.recall(query, k=k, namespace=self.namespace, mode=self.mode)
        others = self.store.search(
            query, k=k, mode=self.mode, scope=MemoryFilter(self.namespace, not_kind=EPISODE)
        )
        relevant = [hit for hit in [*others, *episodes] if self._agreed(hit)]

        # what the user stated comes before what happened in runs (whose answers may be wrong)
        def order(hit: Hit) -> tuple[bool, int]:
            return hit.memory.kind == EPISODE, (hit.dense_rank or 0) + (hit.sparse_rank or 0)

        return sorted(relevant, key=order)[:k]

    def _agreed(self, hit: Hit) -> bool:
        if self.mode == "hybrid":
            return (hit.dense_rank or 99) <= 3 and (hit.sparse_rank or 99) <= 3
        return ((hit.dense_rank if self.mode == "dense" else hit.sparse_rank) or 99) <= 2

    def recall_block(
        self, task: str, *, max_tokens: int = 256, count: Callable[[str], int] | None = None
    ) -> str:
        """Relevant facts and memories as one system-prompt section, at most ``max_tokens``
        (``count`` counts tokens; default about four characters a token). Empty if none."""
        measure = count or (lambda text: len(text) // 4 + 1)
        lines = [f"- {fact.sentence()}." for fact in self._facts_about(task)]
        lines += [f"- {' '.join(hit.memory.text.split())}" for hit in self.recall(task)]
        block = RECALL_HEADING
        for line in dict.fromkeys(lines):
            fitted = _fit(block, line, max_tokens, measure)
            if fitted is None:
                break
            block = fitted
        return "" if block == RECALL_HEADING else block

    def _facts_about(self, task: str) -> list[Any]:
        words = task.casefold()
        found = []
        for subject in self.facts.subjects():
            if re.search(rf"\b{re.escape(subject.casefold())}\b", words):
                found += self.facts.lookup(subject)
        return found

    def record_run(
        self,
        task: str,
        *,
        answer: str,
        status: str,
        error: str | None = None,
        tools: Sequence[str] = (),
        reflections: Sequence[str] = (),
        thread_id: str | None = None,
    ) -> None:
        """Write the episode of a finished run."""
        summary = answer if status == "done" else (error or "no answer")
        if tools:
            summary += f" (tools used: {', '.join(dict.fromkeys(tools))})"
        episode = Episode(task, status, summary[:1500], reflections)
        extra = {"thread": thread_id} if thread_id else {}
        self.episodes.record(episode, namespace=self.namespace, **extra)


def _fit(block: str, line: str, max_tokens: int, measure: Callable[[str], int]) -> str | None:
    """``block`` with ``line`` added, the line cut (ending in "...") if only a part fits."""
    words = line.split()
    keep = len(words)
    while True:
        text = " ".join(words[:keep]) + ("" if keep == len(words) else " ...")
        if measure(f"{block}\n{text}") <= max_tokens:
            return f"{block}\n{text}"
        if keep <= 3:
            return None
        keep = max(3, keep * 3 // 4)
