"""Tool call statistics in SQLite and the circuit breaker built on them."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentlab.errors import RunError, UsageError
from agentlab.testing import FakeClock
from agentlab.tools._stats import MAX_CALLS_PER_TOOL, MAX_ERROR_CHARS, ToolStat, ToolStats

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now=1_000.0)


@pytest.fixture
def stats(tmp_path: Path, clock: FakeClock) -> Iterator[ToolStats]:
    with ToolStats(tmp_path / "deep" / "er" / "stats.db", clock=clock) as store:
        yield store


def rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT name, ms, ok, cost, error FROM calls ORDER BY id").fetchall()


def test_summary_numbers(stats: ToolStats, clock: FakeClock) -> None:
    for ms in range(1, 11):  # 1..10 ms, the 4th and 8th fail
        clock.advance(1)
        ok = ms not in (4, 8)
        stats.record("search", ms=ms, ok=ok, cost=0.5 * ms, error=None if ok else f"boom {ms}")
    clock.advance(1)
    stats.record("calc", ms=2.0, ok=True, cost=0.0)

    calc, search = stats.summary()
    assert calc == ToolStat("calc", 1, 0, 1.0, 2.0, 2.0, 0.0, None, 1_011.0)
    assert search.name == "search"
    assert (search.calls, search.failures, search.success_rate) == (10, 2, 0.8)
    assert search.p50_ms == pytest.approx(5.5)
    assert search.p95_ms == pytest.approx(9.55)
    assert search.mean_cost == pytest.approx(2.75)
    assert search.last_error == "boom 8"
    assert search.last_used == 1_010.0


def test_empty_store_has_no_rows(stats: ToolStats) -> None:
    assert stats.summary() == []
    assert stats.recent_failures("nothing") == 0
    assert not stats.is_open("nothing")


def test_errors_are_truncated(stats: ToolStats) -> None:
    stats.record("t", ms=1, ok=False, cost=0, error="x" * 5_000)
    (stat,) = stats.summary()
    assert stat.last_error is not None
    assert len(stat.last_error) == MAX_ERROR_CHARS
    assert stat.last_error.endswith("…")


def test_recent_failures_counts_the_tail(stats: ToolStats, clock: FakeClock) -> None:
    for ok in (False, True, False, False):
        clock.advance(1)
        stats.record("t", ms=1, ok=ok, cost=0)
    assert stats.recent_failures("t") == 2
    assert stats.recent_failures("other") == 0


def test_breaker_opens_after_three_consecutive_failures(stats: ToolStats, clock: FakeClock) -> None:
    for _ in range(2):
        stats.record("flaky", ms=1, ok=False, cost=0, error="down")
        assert not stats.is_open("flaky")
    stats.record("flaky", ms=1, ok=False, cost=0, error="down")
    assert stats.is_open("flaky")
    assert not stats.is_open("other")
    assert stats.is_open("flaky", threshold=2)
    assert not stats.is_open("flaky", threshold=4)


def test_breaker_stays_closed_when_a_success_breaks_the_run(
    stats: ToolStats, clock: FakeClock
) -> None:
    for ok in (False, False, True):
        clock.advance(1)
        stats.record("t", ms=1, ok=ok, cost=0)
    assert not stats.is_open("t")
    for ok in (False, True, False, False):
        clock.advance(1)
        stats.record("t", ms=1, ok=ok, cost=0)
    assert not stats.is_open("t")


def test_breaker_half_opens_after_cooldown_and_closes_on_success(
    stats: ToolStats, clock: FakeClock
) -> None:
    for _ in range(3):
        stats.record("t", ms=1, ok=False, cost=0)
    clock.advance(299)
    assert stats.is_open("t")
    clock.advance(1)
    assert not stats.is_open("t")  # half-open: offered again
    stats.record("t", ms=1, ok=False, cost=0)
    assert stats.is_open("t")  # the trial failed: open for another cooldown
    clock.advance(10)
    assert stats.is_open("t", cooldown_s=11)
    assert not stats.is_open("t", cooldown_s=10)
    stats.record("t", ms=1, ok=True, cost=0)
    assert not stats.is_open("t")
    assert stats.recent_failures("t") == 0


def test_breaker_rejects_a_zero_threshold(stats: ToolStats) -> None:
    with pytest.raises(UsageError, match="threshold"):
        stats.is_open("t", threshold=0)


def test_pruning_keeps_the_newest_calls(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "stats.db"
    with ToolStats(path, clock=clock, keep=5) as store:
        for i in range(12):
            clock.advance(1)
            store.record("a", ms=i, ok=True, cost=0)
            store.record("b", ms=i, ok=True, cost=0)
        assert [(s.name, s.calls) for s in store.summary()] == [("a", 5), ("b", 5)]
    assert [r[1] for r in rows(path) if r[0] == "a"] == [7, 8, 9, 10, 11]


def test_default_bound(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "stats.db"
    with ToolStats(path, clock=clock) as store:
        for _ in range(MAX_CALLS_PER_TOOL + 3):
            clock.advance(1)
            store.record("a", ms=1, ok=True, cost=0)
        (stat,) = store.summary()
    assert stat.calls == MAX_CALLS_PER_TOOL == len(rows(path))


def test_records_persist_across_opens(tmp_path: Path) -> None:
    path = tmp_path / "stats.db"
    with ToolStats(path) as store:
        store.record("t", ms=3, ok=True, cost=1.5)
    with ToolStats(path) as store:
        (stat,) = store.summary()
    assert (stat.calls, stat.mean_cost) == (1, 1.5)
    assert time.time() - stat.last_used < 60


def test_store_uses_wal(stats: ToolStats) -> None:
    with sqlite3.connect(stats.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_threads_share_one_store(stats: ToolStats) -> None:
    def work(n: int) -> None:
        for i in range(25):
            stats.record(f"t{n}", ms=i, ok=True, cost=0)
            stats.is_open(f"t{n}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [(s.name, s.calls) for s in stats.summary()] == [(f"t{n}", 25) for n in range(4)]


def test_a_closed_store_cannot_be_used(tmp_path: Path) -> None:
    store = ToolStats(tmp_path / "stats.db")
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.record("t", ms=1, ok=True, cost=0)


def run_python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


WRITER = """
    import sys
    from pathlib import Path
    from agentlab.tools._stats import ToolStats

    path, worker = Path(sys.argv[1]), int(sys.argv[2])
    store = ToolStats(path)
    print("ready", flush=True)
    sys.stdin.readline()  # both start writing at the same moment
    for i in range(200):
        store.record("shared", ms=worker * 1000 + i, ok=i % 2 == 0, cost=worker)
    store.close()
"""


@pytest.mark.slow
def test_two_processes_write_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "stats.db"
    workers = [run_python(WRITER, str(path), str(n)) for n in (1, 2)]
    for proc in workers:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr
    for proc in workers:
        proc.communicate("go\n", timeout=120)
        assert proc.returncode == 0, proc.stderr
    stored = sorted(r[1] for r in rows(path))
    assert stored == [w * 1000 + i for w in (1, 2) for i in range(200)]


def test_an_acknowledged_record_survives_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "stats.db"
    crash = """
        import os, sys
        from pathlib import Path
        from agentlab.tools._stats import ToolStats

        store = ToolStats(Path(sys.argv[1]))
        for i in range(5):
            store.record("t", ms=i, ok=True, cost=0)
        os._exit(3)  # no close, no cleanup
    """
    proc = run_python(crash, str(path))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    with ToolStats(path) as store:
        assert [s.calls for s in store.summary()] == [5]


def test_a_corrupt_file_is_reported_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "stats.db"
    garbage = b"not a database" * 100
    path.write_bytes(garbage)
    with pytest.raises(RunError, match="damaged or not SQLite") as caught:
        ToolStats(path)
    assert str(path) in str(caught.value)
    assert "move it away" in str(caught.value)
    assert path.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.db"]


def test_a_foreign_calls_table_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE calls (who TEXT, at TEXT)")
    conn.close()
    with pytest.raises(RunError, match="its calls table has columns who, at"):
        ToolStats(path)


def test_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        ToolStats(tmp_path)
