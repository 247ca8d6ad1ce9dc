"""A durable journal of tool calls, so an approved call runs at most once across crashes.

LangGraph re-runs an interrupted node from its start when a run is resumed. Without a record
kept outside the checkpoint, a process killed while a tool runs would run that tool again on
resume. Each call is journaled (committed) before it starts and again when it ends; on resume
a finished call returns its recorded result and a call that started but never finished is
reported as having an unknown outcome instead of being repeated.

The journal is a SQLite file, or a Postgres database that several processes or machines share.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agentlab._db import is_database_url, open_database

__all__ = ["CallLedger", "LedgerEntry"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tool_calls (
    call_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    args TEXT NOT NULL,
    state TEXT NOT NULL,          -- 'started' | 'done'
    ok INTEGER,
    content TEXT,
    started {real} NOT NULL,
    finished {real}
)
"""
_KEEP_DAYS = 30


@dataclass(frozen=True)
class LedgerEntry:
    name: str
    state: Literal["started", "done"]
    ok: bool | None
    content: str | None


class CallLedger:
    """Tool-call journal at ``path``: a SQLite file (WAL, a commit per change; safe across
    processes) or a ``postgresql://`` URL."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        if not is_database_url(path):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Nodes may run on LangGraph's worker threads; the database serializes use.
        self._file = open_database(path, _SCHEMA, what="tool-call journal")
        with self._file.transaction() as db:
            db.execute(
                "DELETE FROM tool_calls WHERE started < ?", (time.time() - _KEEP_DAYS * 86400,)
            )

    def begin(self, call_id: str, name: str, args: dict[str, Any]) -> LedgerEntry | None:
        """The earlier entry of ``call_id``, or ``None`` after recording that it starts now."""
        with self._file.transaction() as db:
            row = db.execute(
                "SELECT name, state, ok, content FROM tool_calls WHERE call_id = ?", (call_id,)
            ).fetchone()
            if row is not None:
                ok = None if row[2] is None else bool(row[2])
                return LedgerEntry(name=row[0], state=row[1], ok=ok, content=row[3])
            db.execute(
                "INSERT INTO tool_calls (call_id, name, args, state, started) "
                "VALUES (?, ?, ?, 'started', ?)",
                (call_id, name, json.dumps(args, default=str), time.time()),
            )
        return None

    def finish(self, call_id: str, *, ok: bool, content: str) -> None:
        with self._file.transaction() as db:
            db.execute(
                "UPDATE tool_calls SET state = 'done', ok = ?, content = ?, finished = ? "
                "WHERE call_id = ?",
                (int(ok), content, time.time(), call_id),
            )

    def close(self) -> None:
        self._file.close()
