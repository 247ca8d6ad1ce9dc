"""The memory store: SQLite holds every memory (text, metadata, vector) and its BM25 index
(FTS5); Chroma holds the dense index. Search fuses both by reciprocal rank fusion.

SQLite is the source of truth. A write is acknowledged once its SQLite transaction commits;
the vector then goes to Chroma and the row is marked indexed. A process killed in between
leaves an unindexed row, which the next open indexes from the stored vector, so Chroma can
always be rebuilt (``reindex``) without re-embedding and without losing a memory.
"""

from __future__ import annotations

import builtins
import json
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from agentlab._sqlite import SqliteFile
from agentlab.config import Retrieval
from agentlab.errors import StoreError, UsageError
from agentlab.memory._dense import ChromaIndex
from agentlab.memory._records import Hit, Memory
from agentlab.memory._text import clean_text

__all__ = ["RRF_K", "SPARSE_WEIGHT", "Clock", "MemoryFilter", "MemoryStore", "NewMemory"]

# Reciprocal rank fusion: a memory scores weight / (RRF_K + rank) in each ranking. Cormack et
# al. use k=60 and equal weights; on the labeled set in bench/ (tuned on one half of the
# queries, checked on the other) keyword matches help most as a tie-breaker for the dense
# ranking: k=5 and half weight for BM25. Both are parameters of MemoryStore.
RRF_K = 5
SPARSE_WEIGHT = 0.5
Clock = Callable[[], float]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS memories (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    importance REAL NOT NULL,
    last_accessed REAL NOT NULL,
    access_count INTEGER NOT NULL DEFAULT 0,
    vector BLOB NOT NULL,
    indexed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS memories_scope ON memories (namespace, kind, created);
CREATE VIRTUAL TABLE IF NOT EXISTS memories_fts USING fts5(
    text, content='memories', content_rowid='seq', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS memories_ai AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, text) VALUES (new.seq, new.text);
END;
CREATE TRIGGER IF NOT EXISTS memories_ad AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.seq, old.text);
END;
CREATE TRIGGER IF NOT EXISTS memories_au AFTER UPDATE OF text ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, text) VALUES ('delete', old.seq, old.text);
    INSERT INTO memories_fts (rowid, text) VALUES (new.seq, new.text);
END;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_COLUMNS = "id, text, namespace, kind, created, importance, last_accessed, access_count, metadata"
_WORD = re.compile(r"\w+", re.UNICODE)
# Function words match nearly every memory; left out of the keyword query they add no noise.
_STOP_WORDS = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "can", "could", "did", "do", "does", "for",
     "from", "had", "has", "have", "how", "i", "in", "is", "it", "its", "me", "my", "of", "on",
     "or", "our", "so", "that", "the", "their", "them", "then", "there", "these", "they", "this",
     "to", "us", "was", "we", "were", "what", "when", "where", "which", "who", "whom", "whose",
     "why", "will", "with", "would", "you", "your"}
)  # fmt: skip


@dataclass(frozen=True)
class NewMemory:
    """A memory to write; see :meth:`MemoryStore.add`."""

    text: str | bytes
    namespace: str = "default"
    kind: str = "note"
    importance: float = 0.5
    metadata: dict[str, Any] | None = None
    id: str | None = None
    created: float | None = None


@dataclass(frozen=True)
class MemoryFilter:
    """Which memories a search or listing looks at: a namespace (exactly, or with everything
    below it as ``prefix``), a kind, a creation time range and metadata equalities."""

    namespace: str | None = None
    prefix: bool = False
    kind: str | None = None
    not_kind: str | None = None
    since: float | None = None
    until: float | None = None
    where: dict[str, str | int | float | bool] | None = None

    def sql(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.namespace is not None:
            if self.prefix:
                clauses.append("(m.namespace = ? OR m.namespace LIKE ? ESCAPE '\\')")
                escaped = self.namespace.replace("\\", "\\\\").replace("%", "\\%")
                params += [self.namespace, escaped.replace("_", "\\_") + "/%"]
            else:
                clauses.append("m.namespace = ?")
                params.append(self.namespace)
        if self.kind is not None:
            clauses.append("m.kind = ?")
            params.append(self.kind)
        if self.not_kind is not None:
            clauses.append("m.kind != ?")
            params.append(self.not_kind)
        if self.since is not None:
            clauses.append("m.created >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("m.created < ?")
            params.append(self.until)
        for key, value in (self.where or {}).items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise UsageError(f"metadata filter keys are identifiers; got {key!r}")
            clauses.append(f"json_extract(m.metadata, '$.{key}') = ?")
            params.append(value)
        return (" AND ".join(clauses) or "1"), params

    def chroma(self) -> dict[str, Any] | None:
        """The part Chroma can filter itself (namespace prefixes are checked afterwards)."""
        terms: list[dict[str, Any]] = []
        if self.namespace is not None and not self.prefix:
            terms.append({"namespace": self.namespace})
        if self.kind is not None:
            terms.append({"kind": self.kind})
        if self.not_kind is not None:
            terms.append({"kind": {"$ne": self.not_kind}})
        if self.since is not None:
            terms.append({"created": {"$gte": self.since}})
        if self.until is not None:
            terms.append({"created": {"$lt": self.until}})
        if not terms:
            return None
        return terms[0] if len(terms) == 1 else {"$and": terms}


class MemoryStore:
    """Memories with dense, sparse (BM25) and hybrid search.

    ``path`` is a folder: ``memory.sqlite`` and the embedded Chroma store go there, unless
    ``chroma_url`` names a Chroma server, where ``index`` names this store's collections apart
    from other stores' (memories, knowledge). ``clock`` gives the time (inject one in tests);
    a write waits up to ``busy_timeout_s`` for another process's write to finish.
    """

    def __init__(
        self,
        path: Path,
        embeddings: Embeddings,
        *,
        embedder: str | None = None,
        chroma_url: str | None = None,
        clock: Clock = time.time,
        busy_timeout_s: float = 10.0,
        rrf_k: float = RRF_K,
        sparse_weight: float = SPARSE_WEIGHT,
        check_embedder: bool = True,
        index: str = "memories",
    ) -> None:
        self.rrf_k = rrf_k
        self.sparse_weight = sparse_weight
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.embeddings = embeddings
        self.embedder = embedder or str(getattr(embeddings, "name", type(embeddings).__name__))
        self.clock = clock
        self.path.mkdir(parents=True, exist_ok=True)
        self.db_path = self.path / "memory.sqlite"
        self._file = SqliteFile(
            self.db_path, _SCHEMA, what="the memory database", busy_timeout_s=busy_timeout_s
        )
        with self._sql() as db:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
        self.dense = (
            ChromaIndex(self.embedder, url=chroma_url, prefix=index)
            if chroma_url
            else ChromaIndex(self.embedder, path=self.path / "chroma", prefix=index)
        )
        self._seen_generation = -1  # forces one refresh check before the first dense query
        # A run's recall searches episodes and other memories with the same query: embedding it
        # once (0.4 s with the default embedder) serves both.
        self._query_vectors: dict[str, list[float]] = {}
        if check_embedder:  # off only to re-embed with a new embedder (reindex(reembed=True))
            self._check_embedder()
        self._index_pending()

    # -- opening -------------------------------------------------------------------------------

    def _check_embedder(self) -> None:
        with self._sql() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
            count = db.execute("SELECT count(*) FROM memories").fetchone()[0]
            if row is None or count == 0:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('embedder', ?)", (self.embedder,))
            elif row[0] != self.embedder:
                raise StoreError(
                    f"the {count} memories in {self.path} were embedded with {row[0]!r}, not "
                    f"{self.embedder!r}: run `agentlab memory reindex --reembed` to embed them "
                    f"again with {self.embedder!r}, or set the embedder back"
                )

    def _sql(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._file.transaction()

    def close(self) -> None:
        self._file.close()

    # -- writing -------------------------------------------------------------------------------

    def add(
        self,
        text: str | bytes,
        *,
        namespace: str = "default",
        kind: str = "note",
        importance: float = 0.5,
        metadata: dict[str, Any] | None = None,
        id: str | None = None,
        created: float | None = None,
    ) -> Memory:
        """Store one memory and return it. Empty text is an error; text over
        :data:`~agentlab.memory.MAX_MEMORY_CHARS` is cut with a note saying so."""
        item = NewMemory(text, namespace, kind, importance, metadata, id, created)
        return self.add_many([item])[0]

    def add_many(self, items: Sequence[NewMemory]) -> list[Memory]:
        """Store several memories: embedded in one batch, committed in one transaction."""
        now = self.clock()
        rows: list[tuple[Any, ...]] = []
        for item in items:
            text = clean_text(item.text)
            if not 0.0 <= item.importance <= 1.0:
                raise UsageError(f"importance is between 0 and 1, not {item.importance}")
            if not item.namespace or not item.kind:
                raise UsageError("a memory needs a namespace and a kind")
            metadata = dict(item.metadata or {})
            json.dumps(metadata)  # must be JSON; fails here, before anything is written
            created = now if item.created is None else item.created
            rows.append(
                (item.id or uuid.uuid4().hex, item.namespace, item.kind, text,
                 json.dumps(metadata), created, item.importance, created)
            )  # fmt: skip
        vectors = self.embeddings.embed_documents([row[3] for row in rows])
        blobs = [np.asarray(v, dtype=np.float32).tobytes() for v in vectors]
        with self._sql() as db:
            for row, blob in zip(rows, blobs, strict=True):
                db.execute("DELETE FROM memories WHERE id = ?", (row[0],))
                db.execute(
                    "INSERT INTO memories (id, namespace, kind, text, metadata, created, "
                    "importance, last_accessed, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*row, blob),
                )
        self._index([row[0] for row in rows], vectors, rows)
        return [self.get(row[0]) for row in rows]  # type: ignore[misc]

    def _index(
        self, ids: list[str], vectors: Sequence[Sequence[float]], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        metadatas = [{"namespace": r[1], "kind": r[2], "created": r[5]} for r in rows]
        self.dense.upsert(ids, vectors, metadatas)
        with self._sql() as db:
            db.executemany("UPDATE memories SET indexed = 1 WHERE id = ?", [(i,) for i in ids])
            self._bump_generation(db)

    def _bump_generation(self, db: sqlite3.Connection) -> None:
        (value,) = db.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation' "
            "RETURNING CAST(value AS INTEGER)"
        ).fetchone()
        if value == self._seen_generation + 1:  # nobody else wrote since we last looked
            self._seen_generation = value

    def _index_pending(self) -> None:
        """Index rows a killed process committed but did not index."""
        with self._sql() as db:
            pending = db.execute(
                "SELECT id, namespace, kind, text, metadata, created, vector FROM memories "
                "WHERE indexed = 0"
            ).fetchall()
        if pending:
            vectors = [np.frombuffer(r[6], dtype=np.float32).tolist() for r in pending]
            self._index([r[0] for r in pending], vectors, pending)

    def forget(self, ids: Iterable[str]) -> int:
        """Delete memories by id; returns how many existed."""
        wanted = list(ids)
        with self._sql() as db:
            removed = sum(
                db.execute("DELETE FROM memories WHERE id = ?", (i,)).rowcount for i in wanted
            )
        self.dense.delete(wanted)
        with self._sql() as db:
            self._bump_generation(db)
        return removed

    def forget_where(self, scope: MemoryFilter) -> int:
        return self.forget(m.id for m in self.list(scope, limit=None))

    def touch(self, ids: Iterable[str]) -> None:
        """Record an access: recency restarts and the access count grows (reinforcement)."""
        now = self.clock()
        with self._sql() as db:
            db.executemany(
                "UPDATE memories SET last_accessed = ?, access_count = access_count + 1 "
                "WHERE id = ?",
                [(now, i) for i in ids],
            )

    def reindex(
        self, *, reembed: bool = False, progress: Callable[[int], None] | None = None
    ) -> int:
        """Rebuild the dense index from SQLite; ``reembed`` computes every vector again with
        the current embedder (after switching embedders). Returns the memories indexed."""
        with self._sql() as db:
            rows = db.execute(
                "SELECT id, namespace, kind, text, metadata, created, vector FROM memories"
            ).fetchall()
        stale = self.dense.ids() - {r[0] for r in rows} if not reembed else set()
        self.dense.delete(sorted(stale))
        for start in range(0, len(rows), 64):
            batch = rows[start : start + 64]
            if reembed:
                vectors = self.embeddings.embed_documents([r[3] for r in batch])
                with self._sql() as db:
                    db.executemany(
                        "UPDATE memories SET vector = ? WHERE id = ?",
                        [
                            (np.asarray(v, np.float32).tobytes(), r[0])
                            for v, r in zip(vectors, batch, strict=True)
                        ],
                    )
            else:
                vectors = [np.frombuffer(r[6], dtype=np.float32).tolist() for r in batch]
            self._index([r[0] for r in batch], vectors, batch)
            if progress:
                progress(start + len(batch))
        with self._sql() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('embedder', ?)", (self.embedder,))
        return len(rows)

    # -- reading -------------------------------------------------------------------------------

    def get(self, id: str) -> Memory | None:
        with self._sql() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM memories WHERE id = ?", (id,)).fetchone()
        return _memory(row) if row else None

    def list(
        self, scope: MemoryFilter | None = None, *, limit: int | None = 50, offset: int = 0
    ) -> builtins.list[Memory]:
        """Memories in ``scope``, newest first."""
        where, params = (scope or MemoryFilter()).sql()
        query = (
            f"SELECT {_COLUMNS} FROM memories m WHERE {where} ORDER BY m.created DESC, m.seq DESC"
        )
        query += " LIMIT ? OFFSET ?"
        with self._sql() as db:
            rows = db.execute(query, [*params, -1 if limit is None else limit, offset]).fetchall()
        return [_memory(r) for r in rows]

    def count(self, scope: MemoryFilter | None = None) -> int:
        where, params = (scope or MemoryFilter()).sql()
        with self._sql() as db:
            return int(
                db.execute(f"SELECT count(*) FROM memories m WHERE {where}", params).fetchone()[0]
            )

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        mode: Retrieval = "hybrid",
        scope: MemoryFilter | None = None,
    ) -> builtins.list[Hit]:
        """The ``k`` memories most relevant to ``query``: ``dense`` (embeddings in Chroma),
        ``sparse`` (BM25 over FTS5) or ``hybrid`` (both, fused by reciprocal rank)."""
        if mode not in ("hybrid", "dense", "sparse"):
            raise UsageError(f"retrieval mode is hybrid, dense or sparse, not {mode!r}")
        if k < 1:
            raise UsageError(f"k must be at least 1, not {k}")
        query = clean_text(query)
        scope = scope or MemoryFilter()
        depth = max(4 * k, 30)
        dense = self._dense_ids(query, depth, scope) if mode != "sparse" else []
        sparse = self._sparse_ids(query, depth, scope) if mode != "dense" else []
        scores: dict[str, float] = {}
        for ranking, weight in ((dense, 1.0), (sparse, self.sparse_weight)):
            for rank, memory_id in enumerate(ranking, start=1):
                scores[memory_id] = scores.get(memory_id, 0.0) + weight / (self.rrf_k + rank)
        best = sorted(scores, key=lambda i: -scores[i])[:k]
        found = {m.id: m for m in self._fetch(best)}
        return [
            Hit(found[i], scores[i], _rank(dense, i), _rank(sparse, i)) for i in best if i in found
        ]

    def _dense_ids(self, query: str, depth: int, scope: MemoryFilter) -> builtins.list[str]:
        with self._sql() as db:
            generation = int(
                db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0]
            )
        if generation != self._seen_generation:  # another process wrote: reopen Chroma
            self.dense.refresh()
            self._seen_generation = generation
        vector = self._query_vector(query)
        ids = self.dense.query(
            vector, depth * (3 if scope.prefix or scope.where else 1), scope.chroma()
        )
        if scope.prefix or scope.where:  # what Chroma could not filter
            kept = {m.id for m in self._fetch(ids, scope)}
            ids = [i for i in ids if i in kept]
        return ids[:depth]

    def _query_vector(self, query: str) -> builtins.list[float]:
        if query not in self._query_vectors:
            if len(self._query_vectors) >= 64:
                self._query_vectors.pop(next(iter(self._query_vectors)))
            self._query_vectors[query] = self.embeddings.embed_query(query)
        return self._query_vectors[query]

    def matching(self, query: str, ids: Sequence[str]) -> set[str]:
        """Those of ``ids`` whose text the keyword index (BM25) matches for ``query``, whatever
        the search mode that found them: a dense hit sharing no word with the query is weak
        evidence."""
        match = _match_expression(query)
        if match is None or not ids:
            return set()
        marks = ",".join("?" * len(ids))
        sql = (
            "SELECT m.id FROM memories_fts JOIN memories m ON m.seq = memories_fts.rowid "
            f"WHERE memories_fts MATCH ? AND m.id IN ({marks})"
        )
        with self._sql() as db:
            return {r[0] for r in db.execute(sql, [match, *ids]).fetchall()}

    def unmatched_words(self, query: str, scope: MemoryFilter) -> builtins.list[str]:
        """The content words of ``query`` that no memory in ``scope`` contains (as the keyword
        index stems them, so "offices" finds "office"): what those memories never mention."""
        where, params = scope.sql()
        sql = (
            "SELECT 1 FROM memories_fts JOIN memories m ON m.seq = memories_fts.rowid "
            f"WHERE memories_fts MATCH ? AND {where} LIMIT 1"
        )
        with self._sql() as db:
            return [word for word in _content_words(query)
                    if db.execute(sql, [f'"{word}"', *params]).fetchone() is None]  # fmt: skip

    def _sparse_ids(self, query: str, depth: int, scope: MemoryFilter) -> builtins.list[str]:
        match = _match_expression(query)
        if match is None:
            return []
        where, params = scope.sql()
        sql = (
            "SELECT m.id FROM memories_fts JOIN memories m ON m.seq = memories_fts.rowid "
            f"WHERE memories_fts MATCH ? AND {where} ORDER BY bm25(memories_fts) LIMIT ?"
        )
        with self._sql() as db:
            return [r[0] for r in db.execute(sql, [match, *params, depth]).fetchall()]

    def _fetch(
        self, ids: Sequence[str], scope: MemoryFilter | None = None
    ) -> builtins.list[Memory]:
        if not ids:
            return []
        where, params = (scope or MemoryFilter()).sql()
        marks = ",".join("?" * len(ids))
        sql = f"SELECT {_COLUMNS} FROM memories m WHERE m.id IN ({marks}) AND {where}"
        with self._sql() as db:
            return [_memory(r) for r in db.execute(sql, [*ids, *params]).fetchall()]

    def namespaces(self) -> builtins.list[str]:
        with self._sql() as db:
            return [r[0] for r in db.execute("SELECT DISTINCT namespace FROM memories ORDER BY 1")]

    def stats(self) -> dict[str, Any]:
        with self._sql() as db:
            kinds = dict(db.execute("SELECT kind, count(*) FROM memories GROUP BY kind").fetchall())
            spaces = dict(
                db.execute("SELECT namespace, count(*) FROM memories GROUP BY namespace").fetchall()
            )
            pending = db.execute("SELECT count(*) FROM memories WHERE indexed = 0").fetchone()[0]
        return {
            "memories": sum(kinds.values()),
            "by_kind": kinds,
            "by_namespace": spaces,
            "unindexed": pending,
            "embedder": self.embedder,
            "path": str(self.path),
            "vector_store": self.dense.url or str(self.dense.path),
            "bytes": sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file()),
        }


def _content_words(query: str) -> builtins.list[str]:
    """The query's words, lower-cased, without function words, each once, in order."""
    words = (w.lower() for w in _WORD.findall(query))
    return list(dict.fromkeys(w for w in words if w not in _STOP_WORDS))


def _match_expression(query: str) -> str | None:
    """An FTS5 query matching any of the query's content words (None if it has none)."""
    words = sorted(_content_words(query))
    return " OR ".join(f'"{w}"' for w in words) if words else None


def _rank(ranking: list[str], memory_id: str) -> int | None:
    return ranking.index(memory_id) + 1 if memory_id in ranking else None


def _memory(row: Sequence[Any]) -> Memory:
    return Memory(
        id=row[0],
        text=row[1],
        namespace=row[2],
        kind=row[3],
        created=row[4],
        importance=row[5],
        last_accessed=row[6],
        access_count=row[7],
        metadata=json.loads(row[8]),
    )
