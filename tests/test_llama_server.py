"""The real ``llama-server`` (``make server``) with the real 0.5B model: ``serve-model`` starts
and stops it, the grammar-bound protocol runs over it, an agent run reuses its slot's prefix,
a server killed mid-answer fails the run, whose thread resumes once it is back, and threads in
flight at once keep to their own conversations."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import agentlab, assert_usage_error

from agentlab.config import FAST_MODEL, Settings
from agentlab.errors import UsageError
from agentlab.gguf_info import read_model_info
from agentlab.llm import HttpEngine
from agentlab.llm._llama_server import find_binary
from agentlab.llm.protocol import ToolSpec, action_schema

pytestmark = pytest.mark.llm
TOOLS = "agentlab.tools.demo:TOOLS"
SLOTS, CTX = 2, 4096


def _binary() -> Path:
    try:
        return find_binary(Settings())
    except UsageError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (make test builds it)")
        pytest.skip(f"{exc}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-home")


def _serve(home: Path, port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    return agentlab("serve-model", "--model", FAST_MODEL, "--parallel", str(SLOTS), "--ctx",
                    str(CTX), "--port", str(port), *extra, env={"AGENTLAB_HOME": str(home)},
                    timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def server(server_home: Path) -> Iterator[dict[str, object]]:
    """A server started by ``agentlab serve-model --json``; stopped by ``--stop`` after."""
    _binary()
    done = _serve(server_home, _free_port(), "--json")
    assert done.returncode == 0, done.stderr
    info: dict[str, object] = json.loads(done.stdout)
    yield info
    agentlab("serve-model", "--stop", env={"AGENTLAB_HOME": str(server_home)})


def test_serve_model_runs_the_slots_it_was_asked_for(
    server: dict[str, object], server_home: Path
) -> None:
    props = httpx.get(f"{server['url']}/props", timeout=10).json()
    assert props["total_slots"] == SLOTS
    assert props["default_generation_settings"]["n_ctx"] == CTX  # per slot
    assert (server_home / "llama-server.log").is_file()
    again = _serve(server_home, _free_port())
    assert_usage_error(again, "a model server is already running")


def test_models_info_plans_the_server_kv(server: dict[str, object], model_path: Path) -> None:
    done = agentlab("models", "info", "--ctx", str(CTX), "--parallel", str(SLOTS), "--kv-type",
                    "f16", "--json")  # fmt: skip
    plan = json.loads(done.stdout)["kv_plan"][0]
    per_token = read_model_info(model_path).kv_bytes_per_token("f16")
    assert plan["bytes_all_slots"] == SLOTS * CTX * per_token


def test_port_in_use_is_a_usage_error(tmp_path: Path) -> None:
    _binary()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        done = _serve(tmp_path / "home2", taken.getsockname()[1])
    assert_usage_error(done, "is in use; choose another with --port")


def test_server_that_dies_at_start_shows_its_log(tmp_path: Path) -> None:
    _binary()
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    done = agentlab("serve-model", "--model", str(bad), "--port", str(_free_port()),
                    env={"AGENTLAB_HOME": str(tmp_path / "home3")}, timeout=120)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "llama-server exited with status" in done.stderr and "Traceback" not in done.stderr


def test_grammar_bound_turns_and_tokens_match_in_process(
    server: dict[str, object], model_path: Path
) -> None:
    from llama_cpp import Llama

    engine = HttpEngine(str(server["url"]))
    prompt = "<|im_start|>user\nWhat is 2+2? Answer in JSON.<|im_end|>\n<|im_start|>assistant\n"
    vocab = Llama(model_path=str(model_path), vocab_only=True, verbose=False)
    assert engine.tokenize(prompt) == vocab.tokenize(prompt.encode(), add_bos=False, special=True)
    calc = ToolSpec("calculator", "Evaluate arithmetic.", {
        "type": "object", "properties": {"expression": {"type": "string"}},
        "required": ["expression"]})  # fmt: skip
    turn = engine.complete(prompt, schema=json.dumps(action_schema([calc], "auto")),
                           max_tokens=96, temperature=0.0)  # fmt: skip
    data = json.loads(turn.text, strict=False)
    assert set(data) in ({"thought", "answer"}, {"thought", "tool", "args"}), data
    again = engine.complete(prompt, schema=json.dumps(action_schema([calc], "answer")),
                            max_tokens=96, temperature=0.0)  # fmt: skip
    assert set(json.loads(again.text, strict=False)) == {"thought", "answer"}
    assert again.reused_tokens > 0 and again.prompt_tokens == len(engine.tokenize(prompt))


def test_agent_run_reuses_its_slot_prefix(server: dict[str, object], tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    done = agentlab("run", "react", "What is the weather like in Oslo right now?", "--tools",
                    TOOLS, "--backend", str(server["url"]), "--no-memory", "--json", "--trace",
                    str(trace), timeout=300)  # fmt: skip
    result = json.loads(done.stdout)
    assert result["status"] == "done", done.stderr
    assert [call["name"] for call in result["tool_calls"]][:1] == ["get_weather"]
    assert "oslo" in json.dumps(result["tool_calls"][0]["args"]).lower()
    calls = [json.loads(line) for line in trace.read_text().splitlines()]
    turns = [c for c in calls if c.get("event") == "model_call"]
    assert len(turns) >= 2
    first, second = turns[0], turns[1]
    assert second["reused_prompt_tokens"] >= first["prompt_tokens"] * 0.8, turns
    assert result["usage"]["reused_prompt_tokens"] > 0


def test_server_killed_mid_answer_then_resume(tmp_path: Path) -> None:
    """Its own server (this test kills it): the run fails naming the URL, the checkpoint stays
    usable, and ``resume`` finishes the thread once a server is back on the same port."""
    _binary()
    home, port = tmp_path / "home4", _free_port()
    url = f"http://127.0.0.1:{port}"
    started = agentlab("serve-model", "--model", FAST_MODEL, "--port", str(port), "--json",
                       env={"AGENTLAB_HOME": str(home)}, timeout=300)  # fmt: skip
    assert started.returncode == 0, started.stderr
    pid = int(json.loads(started.stdout)["pid"])
    run = subprocess.Popen(
        [sys.executable, "-m", "agentlab", "run", "react", "Write a haiku about the sea.",
         "--backend", url, "--thread", "kill-1", "--no-memory", "--json", "--max-steps", "3"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _generating(url):
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        stdout, stderr = run.communicate(timeout=120)
    finally:
        run.kill()
    result = json.loads(stdout)
    assert run.returncode == 1 and result["status"] == "failed", stderr
    assert f"the model server at {url}" in result["error"]
    assert "Traceback" not in stderr
    # the pid file still names the killed server: serve-model sees it is gone
    back = agentlab("serve-model", "--model", FAST_MODEL, "--port", str(port),
                    env={"AGENTLAB_HOME": str(home)}, timeout=300)  # fmt: skip
    assert back.returncode == 0, back.stderr
    try:
        resumed = agentlab("resume", "kill-1", "--json", timeout=300)
        result = json.loads(resumed.stdout)
        assert (resumed.returncode, result["status"]) == (0, "done"), resumed.stderr
        assert result["answer"]
    finally:
        agentlab("serve-model", "--stop", env={"AGENTLAB_HOME": str(home)})


def _generating(url: str) -> bool:
    """Whether a slot of the server at ``url`` is decoding (``/slots``)."""
    try:
        slots = httpx.get(f"{url}/slots", timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return False
    return any(
        slot.get("is_processing") and (slot.get("next_token") or [{}])[0].get("n_decoded", 0) > 0
        for slot in slots
    )


def test_threads_at_once_each_answer_their_own_task(
    server: dict[str, object], tmp_path: Path
) -> None:
    """Four conversations in flight on two slots (two share each slot), with ``ainvoke``:
    every one calls its tool for its own city and answers about it alone. With llama-server's
    cross-slot RAM prompt cache on, conversations answered each other's tasks."""
    from langchain_core.messages import HumanMessage

    from agentlab import build_agent, load_settings

    cities = ["Oslo", "Tokyo", "Cairo", "Chicago"]
    settings = load_settings(home=tmp_path, memory=False, backend=str(server["url"]))
    graph = build_agent("react", TOOLS, settings=settings)

    async def all_at_once() -> list[dict[str, object]]:
        runs = [graph.ainvoke({"messages": [HumanMessage(f"What is the weather like in {city} "
                                                         "right now?")]},
                              {"configurable": {"thread_id": f"city-{city}"}})
                for city in cities]  # fmt: skip
        return await asyncio.gather(*runs)

    for city, state in zip(cities, asyncio.run(all_at_once()), strict=True):
        messages = state["messages"]
        calls = [c for m in messages for c in getattr(m, "tool_calls", [])]
        assert calls and calls[0]["args"]["city"].lower() == city.lower(), (city, calls)
        answer = messages[-1].text
        others = [other for other in cities if other != city and other.lower() in answer.lower()]
        assert not others, (city, answer)
