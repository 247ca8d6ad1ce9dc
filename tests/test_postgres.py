"""Checkpoints and records in Postgres: many threads at once on one saver, a server restarted or
stopped in the middle of a run, a database that does not answer, and ``make postgres`` itself.

Runs go through real ``agentlab`` processes with a scripted model in place of llama.cpp (see
``DRIVER``), against real Postgres servers (see ``_postgres.py``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from _postgres import PrivateServer
from conftest import agentlab, assert_usage_error
from langchain_core.messages import HumanMessage

from agentlab._checkpoints import open_checkpointer
from agentlab.config import load_settings
from agentlab.graphs import build_agent
from agentlab.testing import ScriptedChatModel, answer, call

THREADS, TURNS = 8, 3


def echo(text: str) -> str:
    """Say the text back.

    Args:
        text: what to say
    """
    return f"echo {text}"


def _script(thread: str) -> list[Any]:
    turns = []
    for turn in range(TURNS):
        turns += [call("echo", text=f"{thread}/{turn}"), answer(f"answer {thread}/{turn}")]
    return turns


def _converse(graph: Any, thread: str, start: threading.Barrier | None) -> None:
    if start is not None:
        start.wait(timeout=60)
    config: Any = {"configurable": {"thread_id": thread}}
    for turn in range(TURNS):
        graph.invoke({"messages": [HumanMessage(f"task {thread}/{turn}")]}, config)


def test_threads_run_at_once_on_one_saver_keep_every_checkpoint_apart(
    database: str | None, tmp_path: Path
) -> None:
    settings = load_settings(home=tmp_path / "home", memory=False, database_url=database)
    with ExitStack() as resources:
        saver = open_checkpointer(settings, resources)  # one saver: one SQLite file, or Postgres

        def agent(thread: str) -> Any:
            return build_agent("react", [echo], settings=settings, checkpointer=saver,
                               model=ScriptedChatModel(turns=_script(thread)),
                               resources=resources)  # fmt: skip

        _converse(agent("reference"), "reference", None)  # alone: what each thread must hold
        threads = [f"t{i}" for i in range(THREADS)]
        graphs = {thread: agent(thread) for thread in threads}
        start = threading.Barrier(THREADS)
        with ThreadPoolExecutor(THREADS) as pool:
            for done in [pool.submit(_converse, graphs[t], t, start) for t in threads]:
                done.result(timeout=300)

        def checkpoints(thread: str) -> list[Any]:
            return list(saver.list({"configurable": {"thread_id": thread}}))

        expected = len(checkpoints("reference"))
        assert expected >= TURNS * 3
        for thread in threads:
            saved = checkpoints(thread)
            assert len(saved) == expected, thread  # none lost
            assert {c.config["configurable"]["thread_id"] for c in saved} == {thread}
            ids = {c.config["configurable"]["checkpoint_id"] for c in saved}
            parents = [c.parent_config for c in saved if c.parent_config is not None]
            assert all(p["configurable"]["checkpoint_id"] in ids for p in parents)  # one chain
            messages = graphs[thread].get_state({"configurable": {"thread_id": thread}})
            texts = [m.text for m in messages.values["messages"]]
            assert len(texts) == TURNS * 4
            assert texts[-1] == f"answer {thread}/{TURNS - 1}"
            mixed = [text for text in texts if text and f"{thread}/" not in text]
            assert not mixed, mixed  # nothing from another thread


# agentlab's command line, with a scripted model instead of llama.cpp: argv is a JSON list of
# turns ({"tool": NAME, "args": {...}} or {"answer": TEXT}), then the command's arguments.
DRIVER = textwrap.dedent(
    """
    import json, sys
    from agentlab.llm import LlamaChatModel
    from agentlab.testing import ScriptedChatModel, answer, call

    turns = [call(t["tool"], **t["args"]) if "tool" in t else answer(t["answer"])
             for t in json.loads(sys.argv[1])]
    LlamaChatModel.from_settings = classmethod(lambda cls, settings: ScriptedChatModel(turns=turns))
    from agentlab.cli import main

    sys.argv = ["agentlab", *sys.argv[2:]]
    main()
    """
)

# The tool a scripted run calls to stop, or restart, its own database server.
SERVER_TOOLS = textwrap.dedent(
    """
    import os, subprocess

    def database_server(action: str) -> str:
        '''Stop or restart the test's Postgres server.

        Args:
            action: stop or restart
        '''
        script = os.environ["PG_SCRIPT"]
        subprocess.run([script, "stop"], check=True, capture_output=True, timeout=120)
        if action == "restart":
            subprocess.run([script, "start"], check=True, capture_output=True, timeout=120)
        return f"the server did {action}"

    TOOLS = [database_server]
    """
)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "driver.py").write_text(DRIVER)
    (tmp_path / "servertools.py").write_text(SERVER_TOOLS)
    return tmp_path


def _drive(
    workdir: Path, server: PrivateServer, turns: list[dict[str, Any]], *args: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **server.env, "AGENTLAB_DATABASE_URL": f"{server.url}?connect_timeout=3",
           "AGENTLAB_MEMORY": "false", "AGENTLAB_APPROVAL": "none"}  # fmt: skip
    return subprocess.run(
        [sys.executable, "driver.py", json.dumps(turns), *args], cwd=workdir, env=env,
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def _threads(server: PrivateServer) -> dict[str, dict[str, Any]]:
    listed = agentlab("threads", "list", "--json", env={"AGENTLAB_DATABASE_URL": server.url})
    assert listed.returncode == 0, listed.stderr
    return {row["thread_id"]: row for row in json.loads(listed.stdout)["threads"]}


def test_postgres_restarted_during_a_run_the_run_goes_on_on_new_connections(
    workdir: Path, private_postgres: PrivateServer
) -> None:
    turns = [{"tool": "database_server", "args": {"action": "restart"}}, {"answer": "carried on"}]
    done = _drive(workdir, private_postgres, turns, "run", "react", "restart the database",
                  "--tools", "servertools:TOOLS", "--thread", "r1", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["status"], result["answer"]) == ("done", "carried on")
    assert result["tool_calls"][0]["result"] == "the server did restart"
    listed = _threads(private_postgres)["r1"]
    assert (listed["status"], listed["messages"]) == ("done", 4)
    stats = agentlab("tools", "stats", "--json",
                     env={"AGENTLAB_DATABASE_URL": private_postgres.url})  # fmt: skip
    assert [(row["name"], row["calls"]) for row in json.loads(stats.stdout)["tools"]] == [
        ("database_server", 1)
    ]  # recorded after the restart, on a new connection


def test_postgres_stopped_during_a_run_fails_naming_it_and_resume_finishes_the_run(
    workdir: Path, private_postgres: PrivateServer
) -> None:
    turns = [{"tool": "database_server", "args": {"action": "stop"}}, {"answer": "unused"}]
    started = time.monotonic()
    failed = _drive(workdir, private_postgres, turns, "run", "react", "stop the database",
                    "--tools", "servertools:TOOLS", "--thread", "s1", "--json")  # fmt: skip
    assert failed.returncode == 1, failed.stderr
    assert time.monotonic() - started < 120
    reported = json.loads(failed.stdout)  # the --json contract holds with the store gone
    assert reported["status"] == "failed"
    assert "cannot reach the database postgresql://agentlab@127.0.0.1:" in reported["error"]
    assert "Traceback" not in failed.stderr
    password = private_postgres.url.split(":")[2].split("@")[0]
    assert password not in failed.stdout + failed.stderr

    private_postgres.run("start")
    assert _threads(private_postgres)["s1"]["state"] == "unfinished"
    resumed = _drive(workdir, private_postgres, [{"answer": "finished after the restart"}],
                     "resume", "s1", "--json")  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert (result["status"], result["answer"]) == ("done", "finished after the restart")
    # The call that stopped the server was journaled as started: its outcome is unknown, and
    # it is not run again.
    assert "outcome is unknown" in result["tool_calls"][0]["error"]
    assert _threads(private_postgres)["s1"]["status"] == "done"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that takes connections and never answers them."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def _refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again: nothing listens there


@pytest.mark.parametrize("server", ["refused", "silent"])
def test_a_database_that_does_not_answer_is_a_clear_error_within_the_timeout(
    server: str, request: pytest.FixtureRequest
) -> None:
    port = request.getfixturevalue("silent_port") if server == "silent" else _refused_port()
    url = f"postgresql://agentlab:secret@127.0.0.1:{port}/agentlab"
    started = time.monotonic()
    done = agentlab("threads", "list", env={"AGENTLAB_DATABASE_URL": url}, timeout=60)
    took = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    message = " ".join(done.stderr.split())
    assert f"cannot reach the database postgresql://agentlab@127.0.0.1:{port}/agentlab" in message
    assert "for the thread records" in message and "secret" not in message
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert took < 30  # the default connect timeout is 10 s


def test_a_database_url_that_is_not_postgres_is_a_usage_error() -> None:
    done = agentlab("threads", "list", env={"AGENTLAB_DATABASE_URL": "mysql://x@localhost/db"})
    assert_usage_error(done, "database_url: give a Postgres URL")


def test_make_postgres_starts_once_and_prints_the_same_url_again(
    private_postgres: PrivateServer,
) -> None:
    assert private_postgres.url.startswith("postgresql://agentlab:")
    assert private_postgres.run("start") == private_postgres.url  # reused, not started again
    assert private_postgres.run("url") == private_postgres.url
    assert (private_postgres.folder / "data" / "PG_VERSION").is_file()
    listed = agentlab("threads", "list", "--json",
                      env={"AGENTLAB_DATABASE_URL": private_postgres.url})  # fmt: skip
    assert listed.returncode == 0 and json.loads(listed.stdout) == {"threads": []}
