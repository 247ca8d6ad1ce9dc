"""Per-tool call statistics in SQLite, and a circuit breaker built on them.

Every tool call is one row (name, time, latency, success, cost, error). The store is shared by
every process that uses the same file: WAL journal mode lets readers run beside a writer, a busy
timeout makes concurrent writers wait instead of failing, and each record is committed on its own
so an acknowledged record survives a crash. Only the latest calls of each tool are kept.
Processes on several machines share one store in a Postgres database instead (``postgresql://``).
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from agentlab._db import is_database_url, open_database
from agentlab.errors import StoreError, UsageError

__all__ = ["MAX_CALLS_PER_TOOL", "MAX_ERROR_CHARS", "ToolStat", "ToolStats"]

MAX_CALLS_PER_TOOL = 1000
MAX_ERROR_CHARS = 300
_BUSY_TIMEOUT_S = 5.0
_COLUMNS = ("id", "name", "ts", "ms", "ok", "cost", "error", "available")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id {row_id},
    name TEXT NOT NULL,
    ts {real} NOT NULL,
    ms {real} NOT NULL,
    ok INTEGER NOT NULL,
    cost {real} NOT NULL,
    error TEXT,
    available INTEGER NOT NULL  -- 0: the tool itself was down or hung, not the call's input
);
CREATE INDEX IF NOT EXISTS calls_name_ts ON calls (name, ts);
"""

# The index holds (name, ts, rowid), so "newest first" for one tool is an index walk.
_NEWEST_FIRST = "SELECT available, ts FROM calls WHERE name = ? ORDER BY ts DESC, id DESC"
_PRUNE = (
    "DELETE FROM calls WHERE id IN ("
    "SELECT id FROM calls WHERE name = ? ORDER BY ts DESC, id DESC LIMIT {no_limit} OFFSET ?)"
)


@dataclass(frozen=True)
class ToolStat:
    """Statistics of one tool over its retained calls (one row of ``agentlab tools stats``).

    Latencies are in milliseconds; ``last_used`` is a unix time; ``last_error`` is the error
    of the most recent failed call, if any.
    """

    name: str
    calls: int
    failures: int
    success_rate: float
    p50_ms: float
    p95_ms: float
    mean_cost: float
    last_error: str | None
    last_used: float


class ToolStats:
    """A store of tool calls at ``path``: a SQLite file (created with its folder when missing)
    or a ``postgresql://`` URL.

    Safe to share between threads of one process and between processes. Keeps the newest
    ``keep`` calls of each tool. Raises :class:`~agentlab.errors.UsageError` when ``path`` is a
    directory and :class:`~agentlab.errors.StoreError` when the file is not a usable store (such
    a file is left exactly as it is) or the database cannot be reached.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Callable[[], float] = time.time,
        keep: int = MAX_CALLS_PER_TOOL,
    ) -> None:
        if keep < 1:
            raise UsageError(f"keep must be at least 1, not {keep}")
        self.path = path if is_database_url(path) else Path(path)
        self._clock = clock
        self._keep = keep
        if isinstance(self.path, Path):
            _make_folder(self.path)
        # Graphs may run tools on worker threads: the database serialises use of its connection.
        self._file = open_database(
            self.path, _SCHEMA, what="tool stats store", busy_timeout_s=_BUSY_TIMEOUT_S,
            check=_foreign_calls,
        )  # fmt: skip
        self._prune = self._file.dialect.sql(_PRUNE)

    def record(
        self,
        name: str,
        *,
        ms: float,
        ok: bool,
        cost: float,
        error: str | None = None,
        available: bool | None = None,
    ) -> None:
        """Store one call of tool ``name``; it is committed before this returns.

        ``available=True`` marks a failure caused by the call's input (an unknown key, invalid
        arguments), not by the tool being down: it counts against the success rate but not
        towards the circuit breaker. Unset, it follows ``ok``.
        """
        if error is not None and len(error) > MAX_ERROR_CHARS:
            error = error[: MAX_ERROR_CHARS - 1] + "…"
        up = ok if available is None else available
        row = (name, self._clock(), float(ms), int(ok), float(cost), error, int(up))
        with self._file.transaction(immediate=True) as conn:
            conn.execute(
                "INSERT INTO calls (name, ts, ms, ok, cost, error, available) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            conn.execute(self._prune, (name, self._keep))

    def summary(self) -> list[ToolStat]:
        """Statistics of every tool in the store, sorted by name."""
        with self._file.transaction() as conn:
            rows = conn.execute(
                "SELECT name, ts, ms, ok, cost, error FROM calls ORDER BY name, ts, id"
            ).fetchall()
        grouped: dict[str, list[tuple[Any, ...]]] = {}
        for row in rows:
            grouped.setdefault(row[0], []).append(row)
        return [_summarise(name, calls) for name, calls in grouped.items()]

    def recent_failures(self, name: str) -> int:
        """How many of the tool's latest calls found it down, in a row (failures caused by the
        call's input do not count, see :meth:`record`)."""
        return self._down_streak(name)[0]

    def is_open(self, name: str, *, threshold: int = 3, cooldown_s: float = 300.0) -> bool:
        """Whether the circuit breaker withholds tool ``name`` now.

        Open when the last ``threshold`` calls all failed and the latest of them is younger than
        ``cooldown_s``. After the cooldown the tool is offered again (half-open): one more
        failure opens the breaker for another cooldown, one success closes it.
        """
        return self.health(name, threshold=threshold, cooldown_s=cooldown_s)[1]

    def health(
        self, name: str, *, threshold: int = 3, cooldown_s: float = 300.0
    ) -> tuple[int, bool]:
        """:meth:`recent_failures` and :meth:`is_open` from one read."""
        if threshold < 1:
            raise UsageError(f"threshold must be at least 1, not {threshold}")
        failures, latest = self._down_streak(name)
        return failures, failures >= threshold and self._clock() - latest < cooldown_s

    def _down_streak(self, name: str) -> tuple[int, float]:
        """The latest calls that found the tool down, in a row, and when the latest call was."""
        failures, latest = 0, 0.0
        with self._file.transaction() as conn:
            for up, ts in conn.execute(_NEWEST_FIRST, (name,)):
                latest = latest or ts
                if up:
                    break
                failures += 1
        return failures, latest

    def close(self) -> None:
        """Close the database connection; the store cannot be used afterwards."""
        self._file.close()

    def __enter__(self) -> ToolStats:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _make_folder(path: Path) -> None:
    if path.is_dir():
        raise UsageError(f"tool stats store {path} is a directory; give a file path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the folder of tool stats store {path}: {exc}") from None


def _foreign_calls(conn: sqlite3.Connection) -> str | None:
    """A ``calls`` table with other columns belongs to something else."""
    columns = tuple(row[1] for row in conn.execute("PRAGMA table_info(calls)"))
    return (
        None if columns in ((), _COLUMNS) else f"its calls table has columns {', '.join(columns)}"
    )


def _summarise(name: str, rows: list[tuple[Any, ...]]) -> ToolStat:
    """Rows are ``(name, ts, ms, ok, cost, error)``, oldest first."""
    failed = [row for row in rows if not row[3]]
    latencies = sorted(row[2] for row in rows)
    return ToolStat(
        name=name,
        calls=len(rows),
        failures=len(failed),
        success_rate=(len(rows) - len(failed)) / len(rows),
        p50_ms=_percentile(latencies, 0.50),
        p95_ms=_percentile(latencies, 0.95),
        mean_cost=sum(row[4] for row in rows) / len(rows),
        last_error=failed[-1][5] if failed else None,
        last_used=rows[-1][1],
    )


def _percentile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (``statistics.quantiles`` "inclusive")."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))
