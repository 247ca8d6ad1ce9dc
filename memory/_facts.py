"""Symbolic memory: facts as (subject, predicate, object) in SQLite, with history.

Asserting a fact whose subject and predicate match a current fact with another object
supersedes it: the old one gets an end time and a pointer to its successor and stays in the
history. Lookups are exact (case-insensitive on subject and predicate).
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentlab._sqlite import SqliteFile
from agentlab.errors import UsageError
from agentlab.memory._text import clean_text

__all__ = ["Fact", "FactStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS facts (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    predicate TEXT NOT NULL,
    object TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    confidence REAL NOT NULL,
    valid_from REAL NOT NULL,
    valid_to REAL,
    superseded_by TEXT
);
CREATE INDEX IF NOT EXISTS facts_key ON facts (subject COLLATE NOCASE, predicate COLLATE NOCASE);
"""
_COLUMNS = "id, subject, predicate, object, source, confidence, valid_from, valid_to, superseded_by"


@dataclass(frozen=True)
class Fact:
    id: str
    subject: str
    predicate: str
    object: str
    source: str
    confidence: float
    valid_from: float
    valid_to: float | None = None  # set once a newer fact superseded it
    superseded_by: str | None = None

    @property
    def current(self) -> bool:
        return self.valid_to is None

    def sentence(self) -> str:
        return f"{self.subject} {self.predicate} {self.object}"


class FactStore:
    """Subject-predicate-object facts in the SQLite file ``path``."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = SqliteFile(self.path, _SCHEMA, what="the fact store")

    def _sql(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._file.transaction()

    def close(self) -> None:
        self._file.close()

    def assert_fact(
        self, subject: str, predicate: str, obj: str, *, source: str = "", confidence: float = 1.0
    ) -> Fact:
        """Record a fact; a current fact with the same subject and predicate but another object
        is superseded (kept in the history); the same object again only refreshes confidence."""
        subject, predicate, obj = (clean_text(v, limit=500) for v in (subject, predicate, obj))
        if not 0.0 <= confidence <= 1.0:
            raise UsageError(f"confidence is between 0 and 1, not {confidence}")
        now = self.clock()
        with self._sql() as db:
            current = db.execute(
                f"SELECT {_COLUMNS} FROM facts WHERE subject = ? COLLATE NOCASE AND "
                "predicate = ? COLLATE NOCASE AND valid_to IS NULL",
                (subject, predicate),
            ).fetchall()
            for row in current:
                if row[3].casefold() == obj.casefold():
                    db.execute(
                        "UPDATE facts SET confidence = max(confidence, ?) WHERE id = ?",
                        (confidence, row[0]),
                    )
                    return _fact((*row[:5], max(row[5], confidence), *row[6:]))
            new_id = uuid.uuid4().hex
            db.execute(
                f"INSERT INTO facts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                (new_id, subject, predicate, obj, source, confidence, now),
            )
            db.executemany(
                "UPDATE facts SET valid_to = ?, superseded_by = ? WHERE id = ?",
                [(now, new_id, row[0]) for row in current],
            )
        return Fact(new_id, subject, predicate, obj, source, confidence, now)

    def lookup(self, subject: str, predicate: str | None = None) -> list[Fact]:
        """Current facts about ``subject`` (and ``predicate``), exact and case-insensitive."""
        return self._select("valid_to IS NULL", subject, predicate)

    def history(self, subject: str, predicate: str | None = None) -> list[Fact]:
        """Every fact about ``subject`` (and ``predicate``), oldest first, superseded included."""
        return self._select("1", subject, predicate)

    def subjects(self) -> list[str]:
        with self._sql() as db:
            rows = db.execute("SELECT DISTINCT subject FROM facts WHERE valid_to IS NULL")
            return [r[0] for r in rows]

    def forget(self, subject: str, predicate: str | None = None) -> int:
        clause = "subject = ? COLLATE NOCASE" + (
            " AND predicate = ? COLLATE NOCASE" if predicate else ""
        )
        params = (subject, predicate) if predicate else (subject,)
        with self._sql() as db:
            return db.execute(f"DELETE FROM facts WHERE {clause}", params).rowcount

    def _select(self, condition: str, subject: str, predicate: str | None) -> list[Fact]:
        sql = f"SELECT {_COLUMNS} FROM facts WHERE {condition} AND subject = ? COLLATE NOCASE"
        params: list[str] = [subject]
        if predicate is not None:
            sql += " AND predicate = ? COLLATE NOCASE"
            params.append(predicate)
        with self._sql() as db:
            return [_fact(row) for row in db.execute(sql + " ORDER BY valid_from, rowid", params)]


def _fact(row: tuple[Any, ...]) -> Fact:
    return Fact(*row)
