"""Reading search hits as passages: fusing the rankings of several phrasings, one passage
per parent, and a passage bounded by a token budget."""

from __future__ import annotations

from collections.abc import Callable

from agentlab.memory._records import Hit

__all__ = ["MULTI_QUERY_RRF_K", "bounded", "chunk_text", "fuse", "read_as"]

MULTI_QUERY_RRF_K = 60  # reciprocal rank fusion across phrasings (Cormack et al.'s constant)


def fuse(rankings: list[list[Hit]]) -> tuple[dict[str, float], dict[str, Hit]]:
    """Scores by chunk id: with one phrasing the store's own fused score; with several, the
    rankings fused again by reciprocal rank. Also each id's hit."""
    scores: dict[str, float] = {}
    hits: dict[str, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            hits.setdefault(hit.memory.id, hit)
            gain = hit.score if len(rankings) == 1 else 1 / (MULTI_QUERY_RRF_K + rank)
            scores[hit.memory.id] = scores.get(hit.memory.id, 0.0) + gain
    return scores, hits


def chunk_text(indexed: str, heading: str) -> str:
    """The chunk as written, without the heading line it was indexed with."""
    return (
        indexed[len(heading) + 1 :] if heading and indexed.startswith(f"{heading}\n") else indexed
    )


def read_as(hit: Hit) -> tuple[str, int]:
    """The passage a hit is read as: its parent (document, number), or the chunk itself."""
    parent = int(hit.memory.metadata.get("parent", -1))
    return (str(hit.memory.metadata["doc"]), parent) if parent >= 0 else (hit.memory.id, -1)


def bounded(text: str, chunk: str, budget: int, count: Callable[[str], int]) -> str:
    """``text`` cut to ``budget`` tokens around ``chunk`` (a passage stored under another
    token counter may be longer than this one allows)."""
    if count(text) <= budget:
        return text
    centre = max(text.find(chunk), 0) + len(chunk) // 2
    width = len(text)
    while width > len(chunk) // 2 + 1:
        width = width * 3 // 4
        start = max(0, centre - width // 2)
        window = text[start : start + width].strip()
        if count(window) <= budget:
            return window
    return chunk
