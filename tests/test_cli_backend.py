"""``run``/``resume --backend`` through the command line against a local HTTP server: a server
that does not answer, and one that drops the connection mid-answer and comes back."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from conftest import agentlab
from fake_server import DROP, answer, llama_server, serving

from agentlab.llm._http_engine import slot_for


@pytest.mark.slow  # waits out the 10 s answer timeout
def test_a_backend_that_does_not_answer_fails_clearly() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        done = agentlab("run", "react", "What is 2+2?", "--backend", url, "--json", timeout=60)
    assert time.monotonic() - started < 30
    assert done.returncode == 1, done.stderr
    message = " ".join(done.stderr.split())
    assert f"the model server at {url} did not answer /props in time" in message
    assert "Traceback" not in done.stderr


def test_server_lost_mid_answer_fails_then_resume_finishes() -> None:
    fake = llama_server(slots=2)
    fake.queues["/completion"] = [DROP]
    with serving(fake):
        done = agentlab("run", "react", "Say hello.", "--backend", fake.url, "--thread", "t-1",
                        "--no-memory", "--json", timeout=120)  # fmt: skip
        result = json.loads(done.stdout)
        assert done.returncode == 1, done.stderr
        assert result["status"] == "failed"
        assert f"the model server at {fake.url} dropped the connection" in result["error"]
        assert "Traceback" not in done.stderr
        body = fake.bodies("/completion")[0]
        assert body["id_slot"] == slot_for("t-1", 2)  # the thread id reached the engine
        assert "Say hello." in body["prompt"] and body["cache_prompt"] is True

        reply = {"thought": "A greeting needs no tool.", "answer": "Hello!"}
        fake.queues["/completion"] = [answer(json.dumps(reply), cached=40)]
        done = agentlab("resume", "t-1", "--json", timeout=120)
    result = json.loads(done.stdout)
    assert done.returncode == 0, done.stderr
    assert (result["status"], result["answer"]) == ("done", "Hello!")
    assert result["usage"]["reused_prompt_tokens"] == 40
    assert fake.bodies("/completion")[1]["prompt"] == body["prompt"]  # the same turn again


def test_eval_runs_a_suite_on_the_backend(tmp_path: Path) -> None:
    suite = tmp_path / "suite.jsonl"
    suite.write_text(json.dumps({"id": "greet", "task": "Say hello.", "expect": ["Hello"]}) + "\n")
    fake = llama_server()
    reply = {"thought": "A greeting needs no tool.", "answer": "Hello there!"}
    fake.queues["/completion"] = [answer(json.dumps(reply))]
    with serving(fake):
        done = agentlab("eval", str(suite), "--pattern", "react", "--backend", fake.url, "--json",
                        timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["passed"], report["total"]) == (1, 1)
    assert len(fake.bodies("/completion")) == 1
