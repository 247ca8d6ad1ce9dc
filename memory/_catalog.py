"""The knowledge catalog: which documents a knowledge folder holds, in which state, and the
parent passages their chunks point to (``documents.sqlite``).

A document is written in three steps, so an interrupted ingest never leaves half of one
visible: its row is committed as ``ingesting`` first, then its chunks go to the store in
batches, then one transaction marks it ``done`` (and the version it replaces ``removing``).
Searches only return chunks of ``done`` documents; whatever is not ``done`` when a knowledge
folder is next opened is removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentlab._sqlite import SqliteFile
from agentlab.memory._chunking import Parent

__all__ = ["HEADING_SEPARATOR", "Catalog", "DocumentInfo"]

HEADING_SEPARATOR = " > "

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    chunking TEXT NOT NULL,
    chunks INTEGER NOT NULL DEFAULT 0,
    sections INTEGER NOT NULL DEFAULT 0,
    added REAL NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('ingesting', 'done', 'removing'))
);
CREATE UNIQUE INDEX IF NOT EXISTS documents_current
    ON documents (collection, source) WHERE state = 'done';
CREATE TABLE IF NOT EXISTS sections (
    document TEXT NOT NULL,
    number INTEGER NOT NULL,
    heading TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (document, number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_INFO = "source, collection, chunks, sha256, added, bytes, id, chunking, sections"


@dataclass(frozen=True)
class DocumentInfo:
    """A document in a knowledge collection: ``source`` is its name as added, ``added`` the
    unix time it was stored, ``bytes`` its size on disk."""

    source: str
    collection: str
    chunks: int
    sha256: str
    added: float
    bytes: int
    id: str = ""
    chunking: str = ""
    sections: int = 0


class Catalog:
    """The documents table and the parent passages of one knowledge folder."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 10.0) -> None:
        self._file = SqliteFile(
            path, _SCHEMA, what="the knowledge catalog", busy_timeout_s=busy_timeout_s
        )

    def close(self) -> None:
        self._file.close()

    def meta(self, key: str) -> str | None:
        with self._file.transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._file.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- one document's life -------------------------------------------------------------------

    def current(self, collection: str, source: str) -> DocumentInfo | None:
        """The stored (``done``) version of ``source`` in ``collection``."""
        with self._file.transaction() as db:
            row = db.execute(
                f"SELECT {_INFO} FROM documents WHERE collection = ? AND source = ? "
                "AND state = 'done'",
                (collection, source),
            ).fetchone()
        return _info(row) if row else None

    def begin(self, info: DocumentInfo) -> None:
        with self._file.transaction(immediate=True) as db:
            db.execute(
                "INSERT INTO documents (id, collection, source, sha256, bytes, chunking, added, "
                "state) VALUES (?, ?, ?, ?, ?, ?, ?, 'ingesting')",
                (info.id, info.collection, info.source, info.sha256, info.bytes, info.chunking,
                 info.added),
            )  # fmt: skip

    def add_parents(self, document: str, parents: Sequence[Parent]) -> None:
        with self._file.transaction(immediate=True) as db:
            db.executemany(
                "INSERT OR REPLACE INTO sections VALUES (?, ?, ?, ?)",
                [(document, p.number, HEADING_SEPARATOR.join(p.heading), p.text) for p in parents],
            )

    def finish(self, document: str, chunks: int, sections: int, replaces: str | None) -> None:
        """Make ``document`` the current version, in one transaction with retiring the one it
        replaces: a search sees the old version or the new, never both or neither."""
        with self._file.transaction(immediate=True) as db:
            if replaces is not None:
                db.execute("UPDATE documents SET state = 'removing' WHERE id = ?", (replaces,))
            db.execute(
                "UPDATE documents SET state = 'done', chunks = ?, sections = ? WHERE id = ?",
                (chunks, sections, document),
            )

    def retire(self, document: str) -> None:
        with self._file.transaction(immediate=True) as db:
            db.execute("UPDATE documents SET state = 'removing' WHERE id = ?", (document,))

    def drop(self, document: str) -> None:
        """Forget ``document`` and its parents (its chunks are gone from the store by then)."""
        with self._file.transaction(immediate=True) as db:
            db.execute("DELETE FROM sections WHERE document = ?", (document,))
            db.execute("DELETE FROM documents WHERE id = ?", (document,))

    def unfinished(self) -> list[tuple[str, str]]:
        """``(id, collection)`` of documents an interrupted ingest or removal left behind."""
        with self._file.transaction() as db:
            rows = db.execute("SELECT id, collection FROM documents WHERE state != 'done'")
            return [(str(r[0]), str(r[1])) for r in rows.fetchall()]

    # -- reading -------------------------------------------------------------------------------

    def documents(self, collection: str | None = None) -> list[DocumentInfo]:
        where, params = ("AND collection = ?", [collection]) if collection is not None else ("", [])
        with self._file.transaction() as db:
            rows = db.execute(
                f"SELECT {_INFO} FROM documents WHERE state = 'done' {where} "
                "ORDER BY collection, source",
                params,
            ).fetchall()
        return [_info(r) for r in rows]

    def collections(self) -> list[str]:
        with self._file.transaction() as db:
            rows = db.execute(
                "SELECT DISTINCT collection FROM documents WHERE state = 'done' ORDER BY 1"
            ).fetchall()
        return [str(r[0]) for r in rows]

    def done(self, collection: str) -> set[str]:
        with self._file.transaction() as db:
            rows = db.execute(
                "SELECT id FROM documents WHERE collection = ? AND state = 'done'", (collection,)
            ).fetchall()
        return {str(r[0]) for r in rows}

    def known(self) -> set[str]:
        """Every document id with a row, whatever its state."""
        with self._file.transaction() as db:
            return {str(r[0]) for r in db.execute("SELECT id FROM documents").fetchall()}

    def parents(self, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], str]:
        wanted = sorted(set(keys))
        found: dict[tuple[str, int], str] = {}
        with self._file.transaction() as db:
            for document, number in wanted:
                row = db.execute(
                    "SELECT text FROM sections WHERE document = ? AND number = ?",
                    (document, number),
                ).fetchone()
                if row is not None:
                    found[(document, number)] = str(row[0])
        return found

    def totals(self) -> dict[str, int]:
        with self._file.transaction() as db:
            documents, chunks, sections = db.execute(
                "SELECT count(*), coalesce(sum(chunks), 0), coalesce(sum(sections), 0) "
                "FROM documents WHERE state = 'done'"
            ).fetchone()
        return {"documents": documents, "chunks": chunks, "sections": sections}


def _info(row: Sequence[Any]) -> DocumentInfo:
    return DocumentInfo(*row)  # the columns of _INFO are the fields, in order
