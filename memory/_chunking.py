"""Cutting sections into the chunks that are embedded and matched.

Three strategies, selectable so their recall can be compared:

- ``fixed``: windows of a fixed size over the whole text, blind to headings (the baseline).
- ``headings``: each heading's section on its own, long ones cut into overlapping chunks;
  a chunk never mixes two sections and knows its heading path.
- ``parent-child``: sections are cut into parents of at most ``parent_tokens``, and each
  parent into small overlapping children. Children are matched (a small chunk's vector is
  about one thing); the parent is what the model reads (enough context to answer from).

Sizes are in tokens, counted as about four characters each. Cuts fall at the last paragraph,
line, sentence or word boundary before the limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from agentlab.config import Chunking
from agentlab.memory._documents import Section

__all__ = [
    "CHARS_PER_TOKEN",
    "Chunk",
    "ChunkSizes",
    "Parent",
    "chunk_sections",
    "split_spans",
]

CHARS_PER_TOKEN = 4
_BOUNDARIES = ("\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ")


@dataclass(frozen=True)
class ChunkSizes:
    """Chunk sizes in tokens. ``chunk``/``overlap`` for fixed windows and heading chunks;
    ``child``/``child_overlap`` and ``parent`` for parent-child."""

    chunk: int = 256
    overlap: int = 32
    child: int = 96
    child_overlap: int = 16
    parent: int = 512


@dataclass(frozen=True)
class Parent:
    """A passage the model reads; its children point to it by ``number`` (per document)."""

    number: int
    heading: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Chunk:
    """What is embedded and matched: ``parent`` is the number of the :class:`Parent` it
    belongs to (parent-child), or ``None`` when the chunk itself is what the model reads."""

    heading: tuple[str, ...]
    text: str
    parent: int | None = None


def split_spans(text: str, size: int, overlap: int = 0) -> list[tuple[int, int]]:
    """``(start, end)`` spans of at most ``size`` characters covering ``text``, each cut at
    the best boundary in its second half, the next starting ``overlap`` characters earlier
    (at a word start)."""
    spans: list[tuple[int, int]] = []
    start, length = 0, len(text)
    while start < length:
        end = min(start + size, length)
        if end < length:
            end = _cut(text, start, end)
        spans.append((start, end))
        if end >= length:
            break
        following = end
        if overlap:
            word = text.find(" ", end - overlap, end)
            if word > start:
                following = word + 1
        start = following
    return spans


def _cut(text: str, start: int, end: int) -> int:
    floor = start + (end - start) // 2
    for boundary in _BOUNDARIES:
        found = text.rfind(boundary, floor, end)
        if found != -1:
            return found + len(boundary)
    return end


def _pieces(text: str, size: int, overlap: int) -> Iterator[str]:
    for start, end in split_spans(text, size, overlap):
        piece = text[start:end].strip()
        if piece:
            yield piece


def chunk_sections(
    sections: Iterable[Section], strategy: Chunking, sizes: ChunkSizes | None = None
) -> Iterator[Parent | Chunk]:
    """The chunks (and, for parent-child, each parent before its children) of a document
    read as ``sections``; streamed, so memory stays bounded by one section."""
    sizes = sizes or ChunkSizes()
    if strategy == "fixed":
        yield from _fixed(sections, sizes)
    elif strategy == "headings":
        for section in sections:
            for piece in _pieces(section.text, _chars(sizes.chunk), _chars(sizes.overlap)):
                yield Chunk(section.heading, piece)
    elif strategy == "parent-child":
        number = 0
        for section in sections:
            for parent in _pieces(section.text, _chars(sizes.parent), 0):
                yield Parent(number, section.heading, parent)
                for child in _pieces(parent, _chars(sizes.child), _chars(sizes.child_overlap)):
                    yield Chunk(section.heading, child, number)
                number += 1
    else:
        raise ValueError(f"chunking is fixed, headings or parent-child, not {strategy!r}")


def _fixed(sections: Iterable[Section], sizes: ChunkSizes) -> Iterator[Chunk]:
    """Windows over the running text (heading lines included as text), carried across
    sections: the last, possibly short, window waits for more text."""
    size, overlap = _chars(sizes.chunk), _chars(sizes.overlap)
    buffer = ""
    for section in sections:
        addition = f"{section.title}\n{section.text}" if section.title else section.text
        buffer = f"{buffer}\n\n{addition}" if buffer else addition
        if len(buffer) >= 4 * size:
            spans = split_spans(buffer, size, overlap)
            for start, end in spans[:-1]:
                if piece := buffer[start:end].strip():
                    yield Chunk((), piece)
            buffer = buffer[spans[-1][0] :]
    for piece in _pieces(buffer, size, overlap):
        yield Chunk((), piece)


def _chars(tokens: int) -> int:
    return max(1, tokens * CHARS_PER_TOKEN)
