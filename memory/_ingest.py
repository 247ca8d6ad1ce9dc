"""Adding a document: finding the files under what was given, hashing them, and streaming
their chunks into the store in batches."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from agentlab.config import Chunking
from agentlab.memory._catalog import HEADING_SEPARATOR, Catalog, DocumentInfo
from agentlab.memory._chunking import Chunk, ChunkSizes, Parent, chunk_sections
from agentlab.memory._documents import Document, Unreadable
from agentlab.memory._store import MemoryStore, NewMemory

__all__ = ["CHUNK", "find_files", "sha256_of", "write_document"]

CHUNK = "chunk"  # the kind of a knowledge chunk in the store


def find_files(paths: Sequence[Path], skipped: list[tuple[str, str]]) -> Iterator[tuple[Path, str]]:
    """``(path, source)`` for every file under ``paths``; a folder's files are named relative
    to it, hidden files and folders left out."""
    for given in map(Path, paths):
        if given.is_dir():
            for path in sorted(given.rglob("*")):
                relative = path.relative_to(given)
                if any(part.startswith(".") for part in relative.parts) or path.is_dir():
                    continue
                yield path, relative.as_posix()
        elif given.exists():
            yield given, given.name
        else:
            skipped.append((str(given), "unreadable: no such file or folder"))


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as raw:
            while block := raw.read(1 << 20):
                digest.update(block)
                size += len(block)
    except OSError as exc:
        raise Unreadable(f"unreadable: {exc.strerror or exc}") from None
    return digest.hexdigest(), size


def write_document(
    store: MemoryStore,
    catalog: Catalog,
    document: Document,
    info: DocumentInfo,
    chunking: Chunking,
    sizes: ChunkSizes,
    batch: int,
) -> tuple[int, int]:
    """Stream ``document``'s chunks into ``store`` and its parents into ``catalog``, ``batch``
    chunks at a time (never the whole document at once); returns (chunks, parents)."""
    chunks: list[NewMemory] = []
    parents: list[Parent] = []
    counts = [0, 0]

    def flush() -> None:
        catalog.add_parents(info.id, parents)  # before the chunks that point to them
        store.add_many(chunks)
        parents.clear()
        chunks.clear()

    for piece in chunk_sections(document.sections(), chunking, sizes):
        if isinstance(piece, Parent):
            parents.append(piece)
            counts[1] += 1
            continue
        chunks.append(_new_chunk(piece, info, counts[0]))
        counts[0] += 1
        if len(chunks) >= batch:
            flush()
    flush()
    return counts[0], counts[1]


def _new_chunk(chunk: Chunk, info: DocumentInfo, number: int) -> NewMemory:
    heading = HEADING_SEPARATOR.join(chunk.heading)
    return NewMemory(
        # the heading path goes with the text: both retrievers see what the chunk is about
        text=f"{heading}\n{chunk.text}" if heading else chunk.text,
        namespace=info.collection,
        kind=CHUNK,
        metadata={
            "doc": info.id,
            "source": info.source,
            "heading": heading,
            "parent": -1 if chunk.parent is None else chunk.parent,
        },
        id=f"{info.id}-{number}",
    )
