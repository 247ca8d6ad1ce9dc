"""agentlab's thread records: their own file beside the checkpoints (or a Postgres database),
the rows older versions kept inside the checkpoint file, and `agentlab threads list` read from
the records alone."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import agentlab

from agentlab.cli._run import RunResult
from agentlab.cli._threads import ThreadRecord, list_threads, load_thread, note_run, save_thread
from agentlab.config import Settings, load_settings
from agentlab.errors import StoreError

RECORD = ThreadRecord("react", "agentlab.tools.demo:TOOLS", {"n_ctx": 4096}, {"expect": []})


def result(status: str, pending: dict[str, Any] | None = None) -> RunResult:
    return RunResult(answer="", thread_id="t1", status=status, steps=1, tool_calls=[],
                     pending=pending, usage={}, wall_s=0.1, error=None)  # fmt: skip


class StubGraph:
    """What note_run asks of a compiled graph: its public state snapshot."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages

    def get_state(self, config: dict[str, Any]) -> SimpleNamespace:
        return SimpleNamespace(values={"messages": self.messages})


def legacy_checkpoints(path: Path, thread_id: str) -> None:
    """A checkpoint file as earlier versions left it, with the thread table inside."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE checkpoints (thread_id TEXT)")
        db.execute("CREATE TABLE agentlab_threads (thread_id TEXT PRIMARY KEY, pattern TEXT NOT "
                   "NULL, tools TEXT, overrides TEXT NOT NULL, options TEXT NOT NULL, updated "
                   "REAL NOT NULL)")  # fmt: skip
        db.execute("INSERT INTO agentlab_threads VALUES (?, 'plan-execute', NULL, ?, '{}', 5.0)",
                   (thread_id, json.dumps({"max_steps": 3})))  # fmt: skip
    db.close()


def test_records_live_in_their_own_file_not_in_the_checkpoints(database: str | None) -> None:
    settings = load_settings(database_url=database)
    save_thread(settings, "t1", RECORD)
    assert load_thread(settings, "t1") == RECORD
    assert load_thread(settings, "other") is None
    assert not settings.checkpoint_path.exists()
    assert settings.threads_path.is_file() == (database is None)  # or in the database


def test_the_latest_run_is_what_the_list_shows(database: str | None) -> None:
    settings = load_settings(database_url=database)
    save_thread(settings, "t1", RECORD)
    (started,) = list_threads(settings)
    assert (started.pattern, started.state, started.messages) == ("react", "unfinished", None)
    waiting = result("interrupted", {"name": "send_email", "args": {}})
    note_run(settings, "t1", StubGraph(["q", "call"]), waiting)  # type: ignore[arg-type]
    (listed,) = list_threads(settings)
    assert listed.messages == 2 and listed.state == "waiting for approval of send_email"
    note_run(settings, "t1", StubGraph(["q", "call", "result", "a"]), result("done"))  # type: ignore[arg-type]
    (listed,) = list_threads(settings)
    assert listed.messages == 4 and listed.state == "" and listed.pending is None


def test_records_kept_in_the_checkpoint_file_are_read_and_the_file_left_alone() -> None:
    settings = load_settings()
    legacy_checkpoints(settings.checkpoint_path, "old")
    before = settings.checkpoint_path.read_bytes()
    assert load_thread(settings, "old") == ThreadRecord("plan-execute", None, {"max_steps": 3})
    assert [t.thread_id for t in list_threads(settings)] == ["old"]
    assert settings.checkpoint_path.read_bytes() == before


def test_copied_once_so_a_newer_record_wins() -> None:
    settings = load_settings()
    legacy_checkpoints(settings.checkpoint_path, "old")
    assert load_thread(settings, "old") is not None  # the copy happens here
    save_thread(settings, "old", RECORD)
    assert load_thread(settings, "old") == RECORD


def test_a_damaged_records_file_says_what_to_do() -> None:
    settings = load_settings()
    settings.home.mkdir(parents=True)
    settings.threads_path.write_bytes(b"not a database" * 100)
    with pytest.raises(StoreError, match=r"thread records .* move it away"):
        load_thread(settings, "t1")


def test_threads_list_reads_the_records(isolated_home: Path, database: str | None) -> None:
    settings = Settings(home=isolated_home, database_url=database)
    env = {"AGENTLAB_DATABASE_URL": database} if database else {}
    empty = agentlab("threads", "list", env=env)
    assert empty.returncode == 0 and "no threads yet" in empty.stdout
    assert not isolated_home.exists()  # listing nothing creates nothing
    save_thread(settings, "t1", RECORD)
    note_run(settings, "t1", StubGraph(["q"]), result("failed"))  # type: ignore[arg-type]
    done = agentlab("threads", "list", "--json", env=env)
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["threads"]
    assert (row["thread_id"], row["pattern"], row["messages"], row["state"]) == (
        "t1", "react", 1, "failed"
    )  # fmt: skip
    table = agentlab("threads", "list", env=env).stdout
    assert "t1" in table and "react" in table and "failed" in table


def test_resume_of_an_unknown_thread_is_a_usage_error() -> None:
    done = agentlab("resume", "nope", "--json")
    assert done.returncode == 2 and "no thread 'nope'" in done.stderr
    assert "Traceback" not in done.stderr
