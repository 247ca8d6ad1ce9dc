"""Episodic memory: one record per finished run, recalled by relevance, recency and importance.

Score = relevance + ``recency_weight`` x recency + ``importance_weight`` x importance, where
relevance is the search's fused score scaled to 0..1 among the candidates and recency halves
every ``half_life_s`` since the episode was last recalled. The terms are added, not multiplied:
an old but relevant episode still ranks first, decay only breaks ties between similar ones.
Recalling an episode reinforces it (its recency restarts, its access count grows). Past
``capacity``, the lowest-value old episodes are folded into one consolidated summary episode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agentlab.config import Retrieval
from agentlab.memory._records import Hit, Memory
from agentlab.memory._store import MemoryFilter, MemoryStore

__all__ = ["EPISODE", "Episode", "EpisodicMemory", "Summarizer"]

EPISODE = "episode"
Summarizer = Callable[[Sequence[Memory]], str]


@dataclass(frozen=True)
class Episode:
    """What happened in one run."""

    task: str
    outcome: str  # "done", "failed", ...
    summary: str  # the answer or a short account of the trajectory
    reflections: Sequence[str] = ()
    importance: float = 0.5

    def text(self) -> str:
        lines = [f"Task: {self.task}", f"Outcome: {self.outcome}. {self.summary}".strip()]
        lines += [f"Lesson: {r}" for r in self.reflections]
        return "\n".join(lines)


def _listing(episodes: Sequence[Memory]) -> str:
    """A deterministic consolidation: the first line (the task) of each episode."""
    firsts = [m.text.splitlines()[0].removeprefix("Task: ")[:120] for m in episodes]
    return f"Consolidated {len(episodes)} earlier episodes: " + "; ".join(firsts)


class EpisodicMemory:
    """Episodes in a :class:`MemoryStore` (kind ``"episode"``), scored with decay."""

    def __init__(
        self,
        store: MemoryStore,
        *,
        half_life_s: float = 30 * 86400.0,
        capacity: int = 1000,
        recency_weight: float = 0.2,
        importance_weight: float = 0.1,
        consolidate_batch: int = 10,
        summarize: Summarizer = _listing,
    ) -> None:
        if half_life_s <= 0 or capacity < 2 or consolidate_batch < 2:
            raise ValueError("half_life_s > 0, capacity >= 2 and consolidate_batch >= 2")
        self.store = store
        self.half_life_s = half_life_s
        self.capacity = capacity
        self.recency_weight = recency_weight
        self.importance_weight = importance_weight
        self.consolidate_batch = consolidate_batch
        self.summarize = summarize

    def record(self, episode: Episode, *, namespace: str = "default", **metadata: Any) -> Memory:
        """Store ``episode``; consolidates old ones when the namespace passes ``capacity``."""
        stored = self.store.add(
            episode.text(),
            namespace=namespace,
            kind=EPISODE,
            importance=episode.importance,
            metadata={"task": episode.task[:500], "outcome": episode.outcome, **metadata},
        )
        self.consolidate(namespace)
        return stored

    def recency(self, memory: Memory, now: float | None = None) -> float:
        age = max(0.0, (self.store.clock() if now is None else now) - memory.last_accessed)
        return float(0.5 ** (age / self.half_life_s))

    def value(self, memory: Memory, now: float | None = None) -> float:
        """How much an episode is worth keeping, regardless of any query."""
        reinforced = min(1.0, memory.access_count / 5)
        return memory.importance + self.recency(memory, now) + reinforced

    def recall(
        self,
        query: str,
        *,
        k: int = 3,
        namespace: str | None = None,
        mode: Retrieval = "hybrid",
        reinforce: bool = True,
    ) -> list[Hit]:
        """The ``k`` best episodes for ``query`` by relevance, recency and importance."""
        scope = MemoryFilter(namespace=namespace, kind=EPISODE)
        candidates = self.store.search(query, k=max(4 * k, 12), mode=mode, scope=scope)
        if not candidates:
            return []
        top = max(h.score for h in candidates)
        now = self.store.clock()
        # Rank fusion orders even identical texts; equal texts are equally relevant, so they
        # share their best score and recency and importance decide between them.
        best: dict[str, float] = {}
        for hit in candidates:
            best[hit.memory.text] = max(best.get(hit.memory.text, 0.0), hit.score)

        def score(hit: Hit) -> float:
            return float(
                best[hit.memory.text] / top
                + self.recency_weight * self.recency(hit.memory, now)
                + self.importance_weight * hit.memory.importance
            )

        ranked = sorted(candidates, key=score, reverse=True)[:k]
        if reinforce:
            self.store.touch(h.memory.id for h in ranked)
        return [Hit(h.memory, score(h), h.dense_rank, h.sparse_rank) for h in ranked]

    def consolidate(self, namespace: str = "default") -> Memory | None:
        """Past capacity, fold the lowest-value episodes into one summary episode."""
        scope = MemoryFilter(namespace=namespace, kind=EPISODE)
        total = self.store.count(scope)
        if total <= self.capacity:
            return None
        now = self.store.clock()
        episodes = self.store.list(scope, limit=None)
        worst = sorted(episodes, key=lambda m: self.value(m, now))
        chosen = worst[: max(self.consolidate_batch, total - self.capacity + 1)]
        summary = self.store.add(
            self.summarize(chosen),
            namespace=namespace,
            kind=EPISODE,
            importance=max(m.importance for m in chosen),
            metadata={"consolidated": len(chosen)},
            created=min(m.created for m in chosen),
        )
        self.store.forget(m.id for m in chosen)
        self.store.touch([summary.id])  # dated by its oldest episode, fresh as a memory
        return self.store.get(summary.id)
