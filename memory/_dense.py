"""The dense index: vectors in Chroma, embedded or on a ``chroma run`` server.

The vectors are computed by the store (with our embedding model) and handed to Chroma; the
collection gets no embedding function, so Chroma never falls back to its default one, which
downloads a model at run time. One collection per embedder: vectors of different models never mix.

An embedded Chroma client caches its index in memory and does not see what another process
wrote since; :meth:`ChromaIndex.refresh` reopens it (the store calls it when the shared write
counter moved). Writes from several processes are serialized by a lock file.
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agentlab.errors import StoreError

__all__ = ["ChromaIndex"]

# Chroma caches one client system per path for the whole process; clearing it (to see other
# processes' writes, or after a failed open) invalidates every collection handle. Each index
# remembers the epoch it opened in and reopens once it has passed.
_epoch = [0]


def _clear_chroma_cache() -> None:
    from chromadb.api.client import SharedSystemClient  # type: ignore[attr-defined]

    SharedSystemClient.clear_system_cache()
    _epoch[0] += 1


def _collection_name(embedder: str, prefix: str = "memories") -> str:
    cleaned = re.sub(r"[^a-zA-Z0-9._-]+", "-", embedder).strip("-._")
    return f"{prefix}-{cleaned}"[:60].rstrip("-._")


class ChromaIndex:
    """Nearest-neighbour search over memory ids, with metadata filters. ``prefix`` names the
    collection apart from other stores' on a shared server ("memories", "knowledge")."""

    def __init__(
        self,
        embedder: str,
        *,
        path: Path | None = None,
        url: str | None = None,
        prefix: str = "memories",
    ) -> None:
        if (path is None) == (url is None):
            raise ValueError("give the embedded store's path or a server url, not both")
        self.path = path
        self.url = url
        self.name = _collection_name(embedder, prefix)
        self._collection: Any = None
        self._opened_in = -1
        self._lock_path = path.with_suffix(".lock") if path is not None else None

    def _open(self) -> Any:
        import chromadb

        settings = chromadb.Settings(anonymized_telemetry=False)  # type: ignore[attr-defined]
        try:
            if self.url is not None:
                parts = urlsplit(self.url if "//" in self.url else f"http://{self.url}")
                secure = parts.scheme == "https"
                client = chromadb.HttpClient(
                    host=parts.hostname or "localhost",
                    port=parts.port or (443 if secure else 8000),
                    ssl=secure,
                    settings=settings,
                )
            else:
                assert self.path is not None
                client = chromadb.PersistentClient(path=str(self.path), settings=settings)
            return client.get_or_create_collection(
                self.name, embedding_function=None, metadata={"hnsw:space": "cosine"}
            )
        except Exception as exc:  # chromadb raises many kinds; all mean the same to the user
            if self.url is None:
                _clear_chroma_cache()  # do not keep the broken client for the next try
            where = self.url or self.path
            raise StoreError(
                f"the vector store at {where} cannot be opened ({type(exc).__name__}: {exc}); "
                "if it is damaged, move it away and run `agentlab memory reindex` to rebuild it "
                "from the memory database (no memory is lost)"
            ) from None

    @property
    def collection(self) -> Any:
        if self._collection is None or self._opened_in != _epoch[0]:
            self._collection = self._open()
            self._opened_in = _epoch[0]
        return self._collection

    def refresh(self) -> None:
        """Forget the cached client so the next call sees other processes' writes."""
        if self.url is None:
            _clear_chroma_cache()
        self._collection = None

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        if self._lock_path is None:  # a server serializes its own writes
            yield
            return
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def upsert(
        self,
        ids: Sequence[str],
        vectors: Sequence[Sequence[float]],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        if not ids:
            return
        with self._exclusive():
            self._guard(
                lambda: self.collection.upsert(
                    ids=list(ids), embeddings=[list(v) for v in vectors], metadatas=list(metadatas)
                )
            )

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            with self._exclusive():
                self._guard(lambda: self.collection.delete(ids=list(ids)))

    def query(
        self, vector: Sequence[float], k: int, where: dict[str, Any] | None = None
    ) -> list[str]:
        """Ids of the ``k`` nearest memories matching ``where``, nearest first."""
        total = self._guard(lambda: self.collection.count())
        if total == 0:
            return []
        result = self._guard(
            lambda: self.collection.query(
                query_embeddings=[list(vector)],
                n_results=min(k, total),
                where=where or None,
                include=[],
            )
        )
        return list(result["ids"][0])

    def ids(self) -> set[str]:
        return set(self._guard(lambda: self.collection.get(include=[]))["ids"])

    def _guard(self, action: Any) -> Any:
        try:
            return action()
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                f"the vector store failed ({type(exc).__name__}: {exc}); run "
                "`agentlab memory reindex` to rebuild it from the memory database"
            ) from None
