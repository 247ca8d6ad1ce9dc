"""Suite files, reflexion's suite checker, and the report over repeated runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver

from agentlab.cli._eval import (
    SuiteTask,
    load_suite,
    run_suite,
    suite_checker,
    suite_summary,
    task_row,
)
from agentlab.errors import UsageError
from agentlab.graphs import AgentSpec
from agentlab.graphs.react import build_react_agent
from agentlab.graphs.reflexion import Verdict
from agentlab.testing import ScriptedChatModel, answer

SUITES = Path(__file__).resolve().parents[1] / "examples" / "suites"


def test_shipped_suites_load_and_the_feedback_suite_has_feedback_that_hides_the_answers() -> None:
    for suite in SUITES.glob("*.jsonl"):
        assert load_suite(suite)
    tasks = load_suite(SUITES / "feedback.jsonl")
    assert all(t.feedback for t in tasks)
    assert not any(e.lower() in t.feedback.lower() for t in tasks for e in t.expect)


def test_the_checker_passes_on_the_expected_strings_and_otherwise_gives_the_feedback(
    tmp_path: Path,
) -> None:
    suite = tmp_path / "s.jsonl"
    suite.write_text(
        '{"id": "a", "task": "T1", "expect": ["42"], "feedback": "Use the calculator."}\n'
        '{"id": "b", "task": "T2", "expect": ["alpha", "beta"]}\n'
    )
    check = suite_checker(load_suite(suite))
    assert check("T1", "it is 42") in (True, Verdict(True, ""))
    assert check("T1", "it is 41") == Verdict(False, "Use the calculator.")
    missing = check("T2", "only alpha")
    assert isinstance(missing, Verdict) and not missing.passed
    assert "1 of 2" in missing.feedback and "beta" not in missing.feedback


def test_a_feedback_that_is_not_a_string_names_the_line(tmp_path: Path) -> None:
    suite = tmp_path / "s.jsonl"
    suite.write_text('{"id": "a", "task": "T", "expect": [], "feedback": 3}\n')
    with pytest.raises(UsageError, match=r"s.jsonl:1: \"feedback\" must be a string"):
        load_suite(suite)


def test_a_kind_is_kept_and_must_be_a_string(tmp_path: Path) -> None:
    suite = tmp_path / "s.jsonl"
    suite.write_text(
        '{"id": "a", "task": "T", "expect": [], "kind": "two-step"}\n'
        '{"id": "b", "task": "T", "expect": []}\n'
    )
    assert [t.kind for t in load_suite(suite)] == ["two-step", ""]
    suite.write_text('{"id": "a", "task": "T", "expect": [], "kind": ["x"]}\n')
    with pytest.raises(UsageError, match=r"s.jsonl:1: \"kind\" must be a string"):
        load_suite(suite)


def fake_run(task_id: str, passed: bool, *, steps: int = 2, wall_s: float = 1.0) -> dict[str, Any]:
    """A run row as ``run_row`` writes it, with round numbers."""
    return {
        "id": task_id, "passed": passed, "status": "done", "answer": "a", "expect": ["x"],
        "steps": steps, "tool_calls": [], "tokens": 100 * steps, "wall_s": wall_s,
        "error": None, "model_calls": steps, "prompt_tokens": 90 * steps,
        "completion_tokens": 10 * steps, "reused_prompt_tokens": 50 * steps,
    }  # fmt: skip


def test_one_run_keeps_todays_row_and_summary_types() -> None:
    row = task_row(SuiteTask("a", "T", ("x",), kind="single"), [fake_run("a", True)])
    assert row["passed"] is True and row["pass_rate"] == 1.0 and row["kind"] == "single"
    assert row["steps"] == 2 and isinstance(row["steps"], int) and len(row["runs"]) == 1
    other = task_row(SuiteTask("b", "T", ("x",)), [fake_run("b", False, wall_s=3.0)])
    summary = suite_summary([row, other], 1)
    assert summary["passed"] == 1 and isinstance(summary["passed"], int)
    assert summary["success_rate"] == 0.5 and summary["repeat"] == 1
    assert summary["repeats"] == {"passed": [1], "mean": 1.0, "stdev": 0.0}
    assert summary["by_kind"] == {
        "": {"passed": 0, "total": 1, "success_rate": 0.0},
        "single": {"passed": 1, "total": 1, "success_rate": 1.0},
    }
    assert summary["median_wall_s"] == 2.0 and summary["model_calls"] == 4


def test_repeats_become_means_with_a_spread_per_repeat_and_per_kind() -> None:
    # Three repeats of three tasks; per repeat: 2, 1 and 3 passes.
    verdicts = {"a": (True, False, True), "b": (True, True, True), "c": (False, False, True)}
    kinds = {"a": "single", "b": "single", "c": "two-step"}
    rows = [
        task_row(
            SuiteTask(task_id, "T", ("x",), kind=kinds[task_id]),
            [fake_run(task_id, ok, steps=i + 1, wall_s=float(i + 1)) for i, ok in enumerate(vs)],
        )
        for task_id, vs in verdicts.items()
    ]
    a = rows[0]
    assert a["passed"] == a["pass_rate"] == round(2 / 3, 4)
    assert a["steps"] == 2.0 and a["tokens"] == 200.0 and a["wall_s"] == 2.0
    assert [r["steps"] for r in a["runs"]] == [1, 2, 3]
    summary = suite_summary(rows, 3)
    assert summary["repeats"] == {"passed": [2, 1, 3], "mean": 2.0, "stdev": 1.0}
    assert summary["passed"] == 2.0 and summary["success_rate"] == round(2 / 3, 4)
    assert summary["by_kind"]["single"] == {"passed": 1.67, "total": 2, "success_rate": 0.8333}
    assert summary["by_kind"]["two-step"] == {"passed": 0.33, "total": 1, "success_rate": 0.3333}
    assert summary["model_calls"] == 3 * (1 + 2 + 3) and summary["mean_steps"] == 2.0
    assert summary["usage"] == {
        "prompt_tokens": 90 * 18, "completion_tokens": 10 * 18, "reused_prompt_tokens": 50 * 18
    }  # fmt: skip
    assert summary["median_wall_s"] == 2.0
    with pytest.raises(ValueError, match="3 runs"):
        suite_summary([*rows, task_row(SuiteTask("d", "T", ()), [fake_run("d", True)])], 3)


def test_run_suite_repeats_every_task_on_fresh_threads(tmp_path: Path) -> None:
    def said(text: str, tokens: int) -> AIMessage:
        turn = answer(text)
        turn.usage_metadata = {"input_tokens": tokens, "output_tokens": 1,
                               "total_tokens": tokens + 1}  # fmt: skip
        return turn

    # The whole suite runs once, then again: t1, t2, t1, t2.
    model = ScriptedChatModel(
        turns=[said("5", 10), said("no", 20), said("4", 30), said("yes it is 7", 40)]
    )
    graph = build_react_agent(AgentSpec(model, [], checkpointer=InMemorySaver()))
    tasks = [SuiteTask("t1", "2 + 3?", ("5",), kind="single"),
             SuiteTask("t2", "3 + 4?", ("7",), kind="no-tool")]  # fmt: skip
    heard: list[tuple[str, bool, int]] = []
    trace = tmp_path / "trace.jsonl"
    report = run_suite(graph, tasks, max_steps=3, trace_path=trace, repeat=2,
                       on_result=lambda t, _, ok, n: heard.append((t.id, ok, n)))  # fmt: skip
    assert heard == [("t1", True, 1), ("t2", False, 1), ("t1", False, 2), ("t2", True, 2)]
    assert all(len(m) == 1 for m in model.seen)  # each run saw only its own task: fresh threads
    assert report["repeats"]["passed"] == [1, 1] and report["passed"] == 1.0
    assert [row["pass_rate"] for row in report["tasks"]] == [0.5, 0.5]
    assert report["usage"]["prompt_tokens"] == 100 and report["model_calls"] == 4
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    calls = [e for e in events if e["event"] == "model_call"]
    assert len(calls) == report["model_calls"]
    assert [(e["task_id"], e["repeat"]) for e in calls] == [
        ("t1", 1), ("t2", 1), ("t1", 2), ("t2", 2)
    ]  # fmt: skip


@pytest.mark.llm
def test_eval_repeat_reports_every_run(tmp_path: Path) -> None:
    suite = tmp_path / "two.jsonl"
    suite.write_text(
        '{"id": "mul", "task": "What is 347 times 29?", "expect": ["10063"], "kind": "single"}\n'
        '{"id": "hi", "task": "Say hi.", "expect": ["hi"], "kind": "no-tool"}\n'
    )
    trace = tmp_path / "trace.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "agentlab", "eval", str(suite), "--tools",
         "agentlab.tools.demo:TOOLS", "--repeat", "2", "--max-steps", "4", "--json",
         "--trace", str(trace)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["repeat"] == 2 and report["total"] == 2
    assert len(report["repeats"]["passed"]) == 2 and set(report["by_kind"]) == {"single", "no-tool"}
    assert report["passed"] == report["repeats"]["mean"]
    for row in report["tasks"]:
        assert len(row["runs"]) == 2 and row["pass_rate"] in (0.0, 0.5, 1.0)
        assert all(run["model_calls"] >= 1 and run["prompt_tokens"] > 0 for run in row["runs"])
    calls = [json.loads(line) for line in trace.read_text().splitlines()]
    assert report["model_calls"] == sum(e["event"] == "model_call" for e in calls)
    assert report["usage"]["prompt_tokens"] > 0 and report["median_wall_s"] > 0
