"""Knowledge: retrieval over the user's own documents.

``KnowledgeBase.add`` reads files and folders (Markdown, text, HTML, PDF), cuts them into
chunks (:mod:`~agentlab.memory._chunking`) and stores them in a :class:`MemoryStore` of their
own: SQLite with BM25 (FTS5) as the record, Chroma for the vectors. A collection is a
namespace of that store. ``search`` is the store's hybrid search, restricted to a collection
(and a source or heading), optionally over several phrasings of the query fused by reciprocal
rank; with parent-child chunking a matched chunk is read as its parent passage.

Files are content-hashed: adding the same bytes again does nothing, changed bytes replace the
document's chunks. The catalog (:mod:`~agentlab.memory._catalog`) keeps every document whole
across interruptions.
"""

from __future__ import annotations

import fcntl
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from agentlab.config import Chunking, Retrieval, Settings
from agentlab.errors import StoreError, UsageError
from agentlab.memory._catalog import Catalog, DocumentInfo
from agentlab.memory._chunking import ChunkSizes
from agentlab.memory._documents import Unreadable, open_document
from agentlab.memory._embeddings import embeddings_from_settings, release
from agentlab.memory._ingest import CHUNK, find_files, sha256_of, write_document
from agentlab.memory._records import Hit
from agentlab.memory._retrieval import bounded, chunk_text, fuse, read_as
from agentlab.memory._rewrite import SearchQueries, rewrite_query
from agentlab.memory._store import MemoryFilter, MemoryStore

__all__ = [
    "AddReport",
    "Chunking",
    "DocumentInfo",
    "KnowledgeBase",
    "Passage",
    "SearchQueries",
    "rewrite_query",
]

_COLLECTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SIZES = ChunkSizes()
_Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Passage:
    """A passage found in the documents.

    ``text`` is what the model reads (with parent-child chunking the matched chunk's parent
    passage), ``chunk`` the small chunk that matched. ``matched`` is true when the keyword
    index (BM25) matched it too: a passage only the vectors found may be unrelated.
    """

    source: str
    heading: str
    text: str
    chunk: str
    score: float
    matched: bool

    @property
    def cite(self) -> str:
        """How an answer cites it: ``[offices.md#Offices > Oslo]`` (``[notes.txt]``)."""
        return f"[{self.source}#{self.heading}]" if self.heading else f"[{self.source}]"


@dataclass
class AddReport:
    """What an :meth:`KnowledgeBase.add` did, source by source."""

    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    warnings: list[str] = field(default_factory=list)


class KnowledgeBase:
    """The user's documents, chunked and indexed under one folder, in named collections.

    Open it with :meth:`open` (or :meth:`from_settings`). ``chunking`` is how documents added
    from now on are cut; ``count`` counts tokens for the bound on a passage
    (``sizes.parent``; default about four characters a token).
    """

    def __init__(
        self,
        path: Path,
        store: MemoryStore,
        catalog: Catalog,
        *,
        chunking: Chunking = "parent-child",
        sizes: ChunkSizes = _SIZES,
        count: Callable[[str], int] | None = None,
        batch: int = 256,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if chunking not in ("fixed", "headings", "parent-child"):
            raise UsageError(f"chunking is fixed, headings or parent-child, not {chunking!r}")
        self.path = path
        self.store = store
        self.catalog = catalog
        self.chunking: Chunking = chunking
        self.sizes = sizes
        self.count = count or (lambda text: len(text) // 4 + 1)
        self.batch = batch
        self.clock = clock
        self._lock_path = path / "ingest.lock"
        self._recover()

    @classmethod
    def open(
        cls,
        path: Path,
        embeddings: Embeddings,
        *,
        chroma_url: str | None = None,
        chunking: Chunking = "parent-child",
        **options: Any,
    ) -> KnowledgeBase:
        """The knowledge folder ``path`` (created if missing); the vectors go to the Chroma
        server ``chroma_url`` when given."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        catalog = Catalog(path / "documents.sqlite")
        try:
            store = MemoryStore(
                path, embeddings, chroma_url=chroma_url, index="knowledge", check_embedder=False
            )
        except BaseException:
            catalog.close()
            raise
        try:
            _check_embedder(path, catalog, store.embedder)
            return cls(path, store, catalog, chunking=chunking, **options)
        except BaseException:
            store.close()
            catalog.close()
            raise

    @classmethod
    def from_settings(cls, settings: Settings) -> KnowledgeBase:
        return cls.open(
            settings.knowledge_path,
            embeddings_from_settings(settings),
            chroma_url=settings.memory_url,
            chunking=settings.chunking,
        )

    def close(self) -> None:
        self.store.close()
        self.catalog.close()
        release(self.store.embeddings)

    # -- adding --------------------------------------------------------------------------------

    def add(
        self,
        paths: Sequence[Path],
        collection: str = "default",
        *,
        on_progress: _Progress | None = None,
    ) -> AddReport:
        """Add files and folders (recursively) to ``collection``; see :class:`AddReport`.
        ``on_progress(source, done, total)`` is called after each file."""
        _check_collection(collection)
        report = AddReport()
        files = list(find_files(paths, report.skipped))
        with self._ingesting():
            self._recover_locked()
            for done, (path, source) in enumerate(files, start=1):
                self._add_file(path, source, collection, report)
                if on_progress is not None:
                    on_progress(source, done, len(files))
        return report

    def _add_file(self, path: Path, source: str, collection: str, report: AddReport) -> None:
        try:
            document = open_document(path)
            digest, size = sha256_of(path)
        except Unreadable as exc:
            report.skipped.append((source, exc.reason))
            return
        current = self.catalog.current(collection, source)
        if current is not None and (current.sha256, current.chunking) == (digest, self.chunking):
            report.unchanged.append(source)
            return
        info = DocumentInfo(source, collection, 0, digest, self.clock(), size,
                            uuid.uuid4().hex, self.chunking)  # fmt: skip
        self.catalog.begin(info)
        try:
            chunks, parents = write_document(
                self.store, self.catalog, document, info, self.chunking, self.sizes, self.batch
            )
        except Unreadable as exc:
            self._discard(info.id, collection)
            report.skipped.append((source, exc.reason))
            return
        except BaseException:  # Ctrl-C or a failing store: nothing of this version stays
            self._discard(info.id, collection)
            raise
        report.warnings += document.warnings
        if chunks == 0:
            self._discard(info.id, collection)
            report.skipped.append((source, "empty"))
            return
        self.catalog.finish(info.id, chunks, parents, current.id if current else None)
        if current is not None:
            self._discard(current.id, collection)
            report.replaced.append(source)
        else:
            report.added.append(source)

    # -- removing and recovering ---------------------------------------------------------------

    def remove(self, source: str, collection: str = "default") -> int:
        """Remove ``source`` from ``collection``; returns how many chunks it had."""
        with self._ingesting():
            current = self.catalog.current(collection, source)
            if current is None:
                raise UsageError(self._unknown_source(source, collection))
            self.catalog.retire(current.id)
            self._discard(current.id, collection)
        return current.chunks

    def _discard(self, document: str, collection: str) -> None:
        """Delete a document's chunks (in bounded batches), then its catalog row."""
        scope = MemoryFilter(namespace=collection, kind=CHUNK, where={"doc": document})
        while ids := [m.id for m in self.store.list(scope, limit=1000)]:
            self.store.forget(ids)
        self.catalog.drop(document)

    def _recover(self) -> None:
        """Finish what an interrupted ingest left, unless another process is ingesting now."""
        with self._lock_file() as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # its ingest is in progress, not interrupted
            try:
                self._recover_locked()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _recover_locked(self) -> None:
        for document, collection in self.catalog.unfinished():
            self._discard(document, collection)
        # Chunks are written after their document's row and deleted before it, so chunks
        # without a row only come from outside; a count tells whether to look for them.
        if self.store.count(MemoryFilter(kind=CHUNK)) != self.catalog.totals()["chunks"]:
            known = self.catalog.known()
            orphans: list[str] = []
            offset = 0
            while page := self.store.list(MemoryFilter(kind=CHUNK), limit=1000, offset=offset):
                orphans += [m.id for m in page if m.metadata.get("doc") not in known]
                offset += len(page)
            self.store.forget(orphans)

    @contextmanager
    def _lock_file(self) -> Iterator[Any]:
        with self._lock_path.open("a") as handle:
            yield handle

    @contextmanager
    def _ingesting(self) -> Iterator[None]:
        """One writer at a time per knowledge folder, across processes."""
        with self._lock_file() as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- reading -------------------------------------------------------------------------------

    def documents(self, collection: str | None = None) -> list[DocumentInfo]:
        return self.catalog.documents(collection)

    def collections(self) -> list[str]:
        return self.catalog.collections()

    def stats(self) -> dict[str, Any]:
        totals = self.catalog.totals()
        by_collection: dict[str, dict[str, int]] = {}
        for info in self.catalog.documents():
            entry = by_collection.setdefault(info.collection, {"documents": 0, "chunks": 0})
            entry["documents"] += 1
            entry["chunks"] += info.chunks
        return {
            "collections": len(by_collection),
            **totals,
            "by_collection": by_collection,
            "chunking": self.chunking,
            "embedder": self.store.embedder,
            "path": str(self.path),
            "vector_store": self.store.dense.url or str(self.store.dense.path),
            "bytes": sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file()),
        }

    def search(
        self,
        query: str,
        *,
        collection: str = "default",
        k: int = 4,
        mode: Retrieval = "hybrid",
        source: str | None = None,
        heading: str | None = None,
        rewrites: Sequence[str] = (),
    ) -> list[Passage]:
        """The ``k`` passages of ``collection`` most relevant to ``query``, best first.

        ``source`` keeps one document, ``heading`` the passages whose heading path starts with
        it; ``rewrites`` are other phrasings of the query, searched too and fused by
        reciprocal rank.
        """
        if k < 1:
            raise UsageError(f"k must be at least 1, not {k}")
        done = self.catalog.done(collection)
        if not done:
            raise UsageError(self._unknown_collection(collection))
        if source is not None and self.catalog.current(collection, source) is None:
            raise UsageError(self._unknown_source(source, collection))
        queries = list(dict.fromkeys(q.strip() for q in [query, *rewrites] if q.strip()))
        if not queries:
            raise UsageError("the search query is empty")
        scope = MemoryFilter(
            namespace=collection, kind=CHUNK, where={"source": source} if source else None
        )
        prefix = heading.strip().casefold() if heading else ""
        depth = 4 * k + (10 * k + 40 if prefix else 0)  # room for what the filters drop
        rankings: list[list[Hit]] = []
        for phrasing in queries:
            hits = self.store.search(phrasing, k=depth, mode=mode, scope=scope)
            rankings.append([
                hit for hit in hits
                if hit.memory.metadata.get("doc") in done
                and str(hit.memory.metadata.get("heading", "")).casefold().startswith(prefix)
            ])  # fmt: skip
        return self._passages(queries, rankings, k)

    def unmentioned(self, query: str, collection: str = "default") -> list[str]:
        """The content words of ``query`` that no document of ``collection`` contains: a
        question that turns on one of them is not answered by these documents."""
        return self.store.unmatched_words(query, MemoryFilter(namespace=collection, kind=CHUNK))

    def _passages(self, queries: list[str], rankings: list[list[Hit]], k: int) -> list[Passage]:
        scores, hits = fuse(rankings)
        best: dict[tuple[str, int], str] = {}  # one passage per parent
        for chunk_id in sorted(scores, key=lambda i: -scores[i]):
            best.setdefault(read_as(hits[chunk_id]), chunk_id)
            if len(best) == k:
                break
        chosen = list(best.values())
        matched: set[str] = set()
        for phrasing in queries:
            matched |= self.store.matching(phrasing, chosen)
        parents = self.catalog.parents(key for key in best if key[1] >= 0)
        passages = []
        for key, chunk_id in best.items():
            metadata = hits[chunk_id].memory.metadata
            chunk = chunk_text(hits[chunk_id].memory.text, str(metadata.get("heading", "")))
            text = parents.get(key, chunk)
            passages.append(
                Passage(
                    source=str(metadata["source"]),
                    heading=str(metadata.get("heading", "")),
                    text=bounded(text, chunk, self.sizes.parent, self.count),
                    chunk=chunk,
                    score=scores[chunk_id],
                    matched=chunk_id in matched,
                )
            )
        return passages

    # -- messages ------------------------------------------------------------------------------

    def _unknown_collection(self, collection: str) -> str:
        known = self.collections()
        others = f" (collections: {', '.join(known)})" if known else ""
        return (
            f"the knowledge collection {collection!r} has no documents{others}; add some with "
            f"`agentlab knowledge add PATH --collection {collection}`"
        )

    def _unknown_source(self, source: str, collection: str) -> str:
        if not self.catalog.done(collection):
            return self._unknown_collection(collection)
        return (
            f"no document {source!r} in the knowledge collection {collection!r}; "
            f"`agentlab knowledge list --collection {collection}` shows its documents"
        )


def _check_collection(collection: str) -> None:
    if not _COLLECTION.fullmatch(collection):
        raise UsageError(
            f"a collection name is letters, digits, '.', '_' or '-' (at most 64), not "
            f"{collection!r}"
        )


def _check_embedder(path: Path, catalog: Catalog, embedder: str) -> None:
    """Vectors of different embedders never mix: a folder keeps the embedder it started with."""
    stored = catalog.meta("embedder")
    if stored is None or not catalog.documents():
        catalog.set_meta("embedder", embedder)
    elif stored != embedder:
        raise StoreError(
            f"the documents in {path} were embedded with {stored!r}, not {embedder!r}: set the "
            f"embedder back to {stored!r}, or move {path} away and add the documents again"
        )
