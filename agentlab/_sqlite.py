"""One SQLite file shared by a process's threads: one transaction at a time, and errors that
say what went wrong and what to do."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from agentlab._db import SQLITE
from agentlab.errors import StoreError

__all__ = ["SqliteFile", "is_damaged", "is_locked"]

_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26  # primary result codes of a damaged or foreign file


def _primary_code(exc: sqlite3.Error) -> int:
    return int(getattr(exc, "sqlite_errorcode", 0)) & 0xFF


def is_damaged(exc: sqlite3.Error) -> bool:
    """The file is damaged or not SQLite at all (only then is moving it away the advice)."""
    return _primary_code(exc) in (_SQLITE_CORRUPT, _SQLITE_NOTADB)


def is_locked(exc: sqlite3.Error) -> bool:
    """Another connection held the lock for longer than the busy timeout."""
    return _primary_code(exc) in (_SQLITE_BUSY, _SQLITE_LOCKED)


class SqliteFile:
    """The SQLite database ``path`` (created with ``schema``), in WAL mode with full sync.

    ``what`` names it in errors ("the memory database"). A write waits up to
    ``busy_timeout_s`` for another process's write to finish. ``check`` reads an existing file
    before anything is written to it and returns what makes it someone else's database (a
    table of the same name with other columns), or ``None``; such a file is left as it is.
    """

    dialect = SQLITE

    def __init__(
        self,
        path: Path,
        schema: str,
        *,
        what: str,
        busy_timeout_s: float = 10.0,
        check: Callable[[sqlite3.Connection], str | None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.what = what
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, timeout=busy_timeout_s, check_same_thread=False)
        except sqlite3.Error as exc:  # e.g. the path is a folder
            raise StoreError(self.problem(exc)) from None
        try:
            foreign = check(self._db) if check is not None else None  # fails on a non-SQLite file
            if foreign is not None:
                self._db.close()
                raise StoreError(
                    f"{what} {self.path} is not agentlab's ({foreign}); move it away to start a "
                    "new one (the rest of AGENTLAB_HOME is untouched)"
                )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(schema)
        except sqlite3.DatabaseError as exc:
            self._db.close()  # a damaged file stays as it is, and is not held open
            raise StoreError(self.problem(exc)) from None

    def problem(self, exc: sqlite3.Error) -> str:
        if is_locked(exc):
            return (
                f"{self.what} {self.path} is locked by another process ({exc}); "
                "wait for it to finish and retry"
            )
        if is_damaged(exc):
            return (
                f"{self.what} {self.path} cannot be used ({exc}); it is damaged or not SQLite: "
                "move it away to start a new one (the rest of AGENTLAB_HOME is untouched)"
            )
        return f"{self.what} {self.path} cannot be used ({exc})"

    @contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        """The connection, in one transaction, with SQLite errors turned into StoreError.

        ``immediate`` takes the write lock up front, so the busy timeout applies to it (a
        transaction that reads first and writes later can fail at once with SQLITE_BUSY).
        """
        with self._lock:
            try:
                with self._db:
                    if immediate:
                        self._db.execute("BEGIN IMMEDIATE")
                    yield self._db
            except sqlite3.ProgrammingError:
                raise  # misuse, such as a closed file: not a problem of the file
            except sqlite3.DatabaseError as exc:
                raise StoreError(self.problem(exc)) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()
