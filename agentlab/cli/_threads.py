"""agentlab's own records of the threads the command line runs, in their own SQLite file
(``Settings.threads_path``) or in the Postgres database of ``Settings.database_url``, apart
from LangGraph's checkpoints:

- what a thread was started with (pattern, tools, settings flags, pattern options), so
  ``agentlab resume`` rebuilds the same agent in a new process;
- how its latest run ended (status, messages, a call waiting for approval), written from the
  run's result and the graph's public state, so ``agentlab threads list`` needs no model and
  never reads checkpoint internals.

Earlier versions kept the first part in a table inside the checkpoint file; those rows are
copied over once, the first time the records file is opened, and the old table is left alone
(SQLite only: Postgres came later).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from agentlab._db import SQLITE, Database, describe_url, open_database
from agentlab._sqlite import SqliteFile
from agentlab.cli._run import RunResult
from agentlab.config import Settings
from agentlab.errors import StoreError

__all__ = [
    "ThreadRecord",
    "ThreadSummary",
    "list_threads",
    "load_thread",
    "note_run",
    "records_place",
    "save_thread",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    thread_id TEXT PRIMARY KEY,
    pattern TEXT NOT NULL,
    tools TEXT,
    overrides TEXT NOT NULL,
    options TEXT NOT NULL,
    updated {real} NOT NULL,
    status TEXT,       -- 'started', then the latest run's: 'done' | 'interrupted' | 'failed'
    messages INTEGER,  -- in the thread's state after the latest run
    pending TEXT       -- the tool whose call waits for approval
)
"""
_LEGACY_TABLE = "agentlab_threads"  # in the checkpoint file, before the records had their own
_MIGRATED = 1  # PRAGMA user_version once the legacy rows have been copied


@dataclass(frozen=True)
class ThreadRecord:
    pattern: str
    tools: str | None  # the --tools spec
    overrides: dict[str, Any] = field(default_factory=dict)  # settings given as CLI flags
    options: dict[str, Any] = field(default_factory=dict)  # pattern flags: --expect, --team


@dataclass(frozen=True)
class ThreadSummary:
    """One row of ``agentlab threads list``; ``None`` where a record predates the field."""

    thread_id: str
    pattern: str
    updated: float  # unix time
    status: str | None
    messages: int | None
    pending: str | None

    @property
    def state(self) -> str:
        """How the latest run ended, in words (empty for a finished one)."""
        if self.status == "interrupted":
            return f"waiting for approval of {self.pending}" if self.pending else "interrupted"
        if self.status == "started":
            return "unfinished"  # running now, or cut off: agentlab resume finishes it
        return "failed" if self.status == "failed" else ""


def records_place(settings: Settings) -> str:
    """Where the thread records are, for messages (a database URL without its password)."""
    url = settings.database_url
    return describe_url(url) if url is not None else str(settings.threads_path)


@contextmanager
def _records(settings: Settings) -> Iterator[Database]:
    if settings.database_url is not None:
        with closing(open_database(settings.database_url, _SCHEMA, what="thread records")) as db:
            yield db
        return
    path = settings.threads_path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder of thread records {path}: {exc}") from None
    with closing(SqliteFile(path, SQLITE.sql(_SCHEMA), what="thread records")) as records:
        _migrate_once(records, settings.checkpoint_path)
        yield records


def _migrate_once(records: SqliteFile, checkpoints: Path) -> None:
    with records.transaction() as db:
        if db.execute("PRAGMA user_version").fetchone()[0] >= _MIGRATED:
            return
        db.executemany(
            "INSERT OR IGNORE INTO threads (thread_id, pattern, tools, overrides, options, "
            "updated) VALUES (?, ?, ?, ?, ?, ?)",
            _legacy_rows(checkpoints),
        )
        db.execute(f"PRAGMA user_version = {_MIGRATED}")


def _legacy_rows(checkpoints: Path) -> list[tuple[Any, ...]]:
    """Thread records from the checkpoint file, read-only; none when there are none to read."""
    if not checkpoints.is_file():
        return []
    try:
        with closing(sqlite3.connect(f"{checkpoints.resolve().as_uri()}?mode=ro", uri=True)) as db:
            known = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (_LEGACY_TABLE,)
            ).fetchone()
            if known is None:
                return []
            return db.execute(
                "SELECT thread_id, pattern, tools, overrides, options, updated "
                f"FROM {_LEGACY_TABLE}"
            ).fetchall()
    except sqlite3.Error:
        return []  # a damaged checkpoint file is reported where the checkpoints are used


def save_thread(settings: Settings, thread_id: str, record: ThreadRecord) -> None:
    """Record what ``thread_id`` runs with, before its run starts."""
    row = (thread_id, record.pattern, record.tools, json.dumps(record.overrides),
           json.dumps(record.options), time.time())  # fmt: skip
    with _records(settings) as records, records.transaction() as db:
        db.execute(
            "INSERT INTO threads (thread_id, pattern, tools, overrides, options, updated, status) "
            "VALUES (?, ?, ?, ?, ?, ?, 'started') ON CONFLICT (thread_id) DO UPDATE SET "
            "pattern = excluded.pattern, tools = excluded.tools, overrides = excluded.overrides, "
            "options = excluded.options, updated = excluded.updated, status = 'started'",
            row,
        )


def load_thread(settings: Settings, thread_id: str) -> ThreadRecord | None:
    with _records(settings) as records, records.transaction() as db:
        row = db.execute(
            "SELECT pattern, tools, overrides, options FROM threads WHERE thread_id = ?",
            (thread_id,),
        ).fetchone()
    if row is None:
        return None
    return ThreadRecord(row[0], row[1], json.loads(row[2]), json.loads(row[3]))


def note_run(
    settings: Settings,
    thread_id: str,
    graph: CompiledStateGraph[Any, Any, Any, Any],
    result: RunResult,
) -> None:
    """Record how the thread's latest run ended, for ``agentlab threads list``."""
    values = graph.get_state({"configurable": {"thread_id": thread_id}}).values
    messages = values.get("messages") if isinstance(values, dict) else None
    count = len(messages) if isinstance(messages, list) else None
    pending = result.pending["name"] if result.pending else None
    with _records(settings) as records, records.transaction() as db:
        db.execute(
            "UPDATE threads SET updated = ?, status = ?, messages = ?, pending = ? "
            "WHERE thread_id = ?",
            (time.time(), result.status, count, pending, thread_id),
        )


def list_threads(settings: Settings) -> list[ThreadSummary]:
    """Every recorded thread, the most recently updated first."""
    nothing_ran = not settings.threads_path.exists() and not settings.checkpoint_path.exists()
    if settings.database_url is None and nothing_ran:
        return []  # do not create files just to list nothing
    with _records(settings) as records, records.transaction() as db:
        rows = db.execute(
            "SELECT thread_id, pattern, updated, status, messages, pending FROM threads "
            "ORDER BY updated DESC, thread_id"
        ).fetchall()
    return [ThreadSummary(*row) for row in rows]
