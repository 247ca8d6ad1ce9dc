"""Approving, editing and rejecting tool calls through the CLI, across processes, with the real
model; and a process killed while the approved call runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import agentlab

pytestmark = pytest.mark.llm

NOTES_MODULE = '''
import os, time
from agentlab.tools import tool

@tool(side_effects="acting")
def save_note(text: str) -> str:
    """Save a note for the user.

    Args:
        text: the note's text
    """
    with open(os.environ["NOTES_FILE"], "a") as f:
        f.write(text + "\\n")
    time.sleep(float(os.environ.get("NOTES_SLEEP", "0")))
    return "note saved"

TOOLS = [save_note]
'''
TASK = "Save a note that says: buy milk"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "notes.py").write_text(NOTES_MODULE)
    return tmp_path


def cli(
    workdir: Path, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    env = {"NOTES_FILE": str(workdir / "notes.txt"), **env}
    return agentlab(*args, env=env, cwd=workdir, stdin=stdin)


def notes(workdir: Path) -> list[str]:
    path = workdir / "notes.txt"
    return path.read_text().splitlines() if path.exists() else []


def start(workdir: Path) -> dict[str, object]:
    before = notes(workdir)
    done = cli(workdir, "run", "react", TASK, "--tools", "notes:TOOLS", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "interrupted"
    assert result["pending"]["name"] == "save_note"
    assert "milk" in result["pending"]["args"]["text"]
    assert notes(workdir) == before  # nothing runs before the approval
    return result


def test_approve_in_a_new_process_runs_the_call_once(workdir: Path) -> None:
    thread = str(start(workdir)["thread_id"])
    listed = json.loads(cli(workdir, "threads", "list", "--json").stdout)["threads"]
    (row,) = [r for r in listed if r["thread_id"] == thread]
    assert row["state"] == "waiting for approval of save_note"
    undecided = cli(workdir, "resume", thread, "--json")
    assert undecided.returncode == 2 and "--approve" in undecided.stderr
    done = cli(workdir, "resume", thread, "--approve", "--json")
    result = json.loads(done.stdout)
    assert result["status"] == "done", result
    assert result["tool_calls"][0]["result"] == "note saved"
    assert len(notes(workdir)) == 1 and "milk" in notes(workdir)[0]
    again = cli(workdir, "resume", thread, "--approve", "--json")
    assert again.returncode == 2 and "no call waiting for approval" in again.stderr
    assert len(notes(workdir)) == 1


def test_edit_runs_the_edited_arguments_and_reject_reaches_the_model(workdir: Path) -> None:
    thread = str(start(workdir)["thread_id"])
    bad = cli(workdir, "resume", thread, "--edit", '{"txt": "x"}', "--json")
    assert bad.returncode == 2 and "do not fit save_note" in bad.stderr
    edited = json.loads(
        cli(workdir, "resume", thread, "--edit", '{"text": "buy oat milk"}', "--json").stdout
    )
    assert edited["tool_calls"][0]["args"] == {"text": "buy oat milk"}
    assert notes(workdir) == ["buy oat milk"]
    other = str(start(workdir)["thread_id"])
    rejected = json.loads(cli(workdir, "resume", other, "--reject", "not today", "--json").stdout)
    assert "not today" in (rejected["tool_calls"][0]["error"] or "")
    assert notes(workdir) == ["buy oat milk"]


def test_interactive_approval_on_the_terminal(workdir: Path) -> None:
    done = cli(workdir, "run", "react", TASK, "--tools", "notes:TOOLS", stdin="a\n")
    assert done.returncode == 0, done.stderr
    assert "approval needed" in done.stderr and "save_note" in done.stderr
    assert len(notes(workdir)) == 1


def test_killed_while_the_approved_call_runs_then_resumed_runs_nothing_twice(
    workdir: Path,
) -> None:
    thread = str(start(workdir)["thread_id"])
    env = {**os.environ, "NOTES_FILE": str(workdir / "notes.txt"), "NOTES_SLEEP": "60"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentlab", "resume", thread, "--approve", "--json"],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not notes(workdir) and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(notes(workdir)) == 1
    resumed = cli(workdir, "resume", thread, "--json")
    result = json.loads(resumed.stdout)
    assert result["status"] in ("done", "interrupted"), result
    assert "outcome is unknown" in (result["tool_calls"][0]["error"] or "")
    assert len(notes(workdir)) == 1  # the approved call did not run again


def test_killed_while_asking_for_approval_then_resumed_elsewhere(workdir: Path) -> None:
    env = {**os.environ, "NOTES_FILE": str(workdir / "notes.txt")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentlab", "run", "react", TASK, "--tools", "notes:TOOLS",
         "--thread", "asking"],
        cwd=workdir, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = ""
    while "approval needed" not in seen:  # the question is on the terminal, nobody answers
        line = proc.stderr.readline()
        assert line, f"the run ended without asking: {seen}"
        seen += line
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert notes(workdir) == []
    result = json.loads(cli(workdir, "resume", "asking", "--approve", "--json").stdout)
    assert result["status"] == "done", result
    assert len(notes(workdir)) == 1
