"""What a thread was started with (pattern, tools, settings), so ``agentlab resume`` can
rebuild the same agent in a new process. Kept next to the checkpoints, in the same SQLite file.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentlab.errors import StoreError

__all__ = ["ThreadRecord", "load_thread", "save_thread"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS agentlab_threads (
    thread_id TEXT PRIMARY KEY,
    pattern TEXT NOT NULL,
    tools TEXT,
    overrides TEXT NOT NULL,
    options TEXT NOT NULL,
    updated REAL NOT NULL
)
"""


@dataclass(frozen=True)
class ThreadRecord:
    pattern: str
    tools: str | None  # the --tools spec
    overrides: dict[str, Any] = field(default_factory=dict)  # settings given as CLI flags
    options: dict[str, Any] = field(default_factory=dict)  # pattern flags: --expect, --team


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        db = sqlite3.connect(path, timeout=10, isolation_level=None)
        db.execute(_SCHEMA)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"checkpoint store {path} cannot be opened ({exc})") from None
    return db


def save_thread(path: Path, thread_id: str, record: ThreadRecord) -> None:
    db = _connect(path)
    try:
        db.execute(
            "INSERT OR REPLACE INTO agentlab_threads VALUES (?, ?, ?, ?, ?, ?)",
            (
                thread_id,
                record.pattern,
                record.tools,
                json.dumps(record.overrides),
                json.dumps(record.options),
                time.time(),
            ),
        )
    finally:
        db.close()


def load_thread(path: Path, thread_id: str) -> ThreadRecord | None:
    if not path.exists():
        return None
    db = _connect(path)
    try:
        row = db.execute(
            "SELECT pattern, tools, overrides, options FROM agentlab_threads WHERE thread_id = ?",
            (thread_id,),
        ).fetchone()
    finally:
        db.close()
    if row is None:
        return None
    return ThreadRecord(row[0], row[1], json.loads(row[2]), json.loads(row[3]))
