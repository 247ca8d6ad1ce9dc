"""Graphs served by LangGraph's own server: ``langgraph.json`` names every pattern, and
``agentlab serve`` runs a thread over HTTP through ``langgraph_sdk``, approval included."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, agentlab, assert_usage_error

from agentlab.graphs import PATTERNS
from agentlab.graphs import _served as served
from agentlab.testing import ScriptedChatModel


def test_langgraph_json_names_every_pattern_and_each_factory_imports() -> None:
    config = json.loads((REPO / "langgraph.json").read_text())
    assert config == served.langgraph_config()
    assert list(config["graphs"]) == list(PATTERNS)
    for path in config["graphs"].values():
        module, _, attr = path.partition(":")
        assert callable(getattr(importlib.import_module(module), attr)), path


def test_each_factory_builds_its_pattern_once_without_a_checkpointer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTLAB_MEMORY", "false")
    monkeypatch.setattr(served, "_model", lambda: ScriptedChatModel(turns=[]))
    served._settings.cache_clear()
    served._build.cache_clear()
    try:
        for name, path in served.langgraph_config()["graphs"].items():
            factory = getattr(served, path.partition(":")[2])
            graph = asyncio.run(factory({}))
            assert graph.name == name
            assert graph.checkpointer is None  # the server brings its own
            assert asyncio.run(factory({})) is graph
    finally:
        served._settings.cache_clear()
        served._build.cache_clear()


def test_serve_without_the_extra_names_it() -> None:
    blocked = (
        "import sys; sys.modules['langgraph_api'] = None; sys.argv = ['agentlab', 'serve']; "
        "from agentlab.cli import main; main()"
    )
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True)
    assert_usage_error(done, "pip install 'agentlab[serve]'")


def test_serve_names_a_missing_model_before_it_starts(tmp_path: Path) -> None:
    done = agentlab("serve", "--model", str(tmp_path / "none.gguf"))
    assert_usage_error(done, "nor an existing GGUF file")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path, model_path: Path) -> Iterator[str]:
    """``agentlab serve`` on a free port, the 0.5B model, get_weather held for approval."""
    port = _free_port()
    env = {**os.environ, "AGENTLAB_MODEL": str(model_path), "AGENTLAB_MEMORY": "false",
           "AGENTLAB_APPROVE_TOOLS": '["get_weather"]'}  # fmt: skip
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "agentlab", "serve", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, log_path)
        yield url
    finally:
        process.send_signal(signal.SIGINT)  # as Ctrl-C: the server shuts down cleanly
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"the server did not stop on SIGINT: {log_path.read_text()[-2000:]}")


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"agentlab serve exited {process.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"agentlab serve did not answer within 120 s: {log.read_text()[-3000:]}")


@pytest.mark.llm
def test_a_thread_over_http_waits_for_approval_and_resumes(server: str) -> None:
    from langgraph_sdk import get_sync_client

    client = get_sync_client(url=server)
    thread_id = client.threads.create()["thread_id"]
    task = {"messages": [{"role": "user", "content": "What is the weather in Oslo?"}]}
    client.runs.wait(thread_id, "react", input=task)

    state: Any = client.threads.get_state(thread_id)
    assert state["next"] == ["approve"]
    (pending,) = [i["value"] for task in state["tasks"] for i in task["interrupts"]]
    assert pending["name"] == "get_weather"
    assert "oslo" in pending["args"]["city"].lower()

    # the decision format of agentlab resume --approve
    done: Any = client.runs.wait(thread_id, "react", command={"resume": {"action": "approve"}})
    messages = done["messages"]
    (result,) = [m for m in messages if m["type"] == "tool"]
    assert result["content"].startswith("Oslo: 4 °C")
    assert messages[-1]["type"] == "ai" and "4" in messages[-1]["content"]
    assert not client.threads.get_state(thread_id)["next"]
