"""Task suites: loading JSONL suites and scoring a pattern on them."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from agentlab.cli._run import RunResult, run_task
from agentlab.errors import UsageError
from agentlab.graphs.reflexion import Checker, Verdict, expect_all
from agentlab.tracing import Tracer

__all__ = ["SuiteTask", "load_suite", "passes", "run_suite", "suite_checker"]


@dataclass(frozen=True)
class SuiteTask:
    id: str
    task: str
    expect: tuple[str, ...]
    feedback: str = ""  # what a failed attempt is told (reflexion), never the expected values


def load_suite(path: Path) -> list[SuiteTask]:
    """Read ``{"id", "task", "expect": [...], "feedback"?: str}`` lines; blank lines are
    skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read suite {path}: {exc}") from None
    tasks: list[SuiteTask] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise UsageError(f"{where}: each line must be a JSON object")
        task_id, task, expect = data.get("id"), data.get("task"), data.get("expect")
        if not isinstance(task_id, str) or not isinstance(task, str) or not task.strip():
            raise UsageError(f'{where}: needs string "id" and non-empty string "task"')
        if not isinstance(expect, list) or not all(isinstance(e, str) for e in expect):
            raise UsageError(f'{where}: "expect" must be a list of strings')
        feedback = data.get("feedback", "")
        if not isinstance(feedback, str):
            raise UsageError(f'{where}: "feedback" must be a string')
        tasks.append(SuiteTask(task_id, task, tuple(expect), feedback))
    if not tasks:
        raise UsageError(f"suite {path} has no tasks")
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        raise UsageError(f"suite {path} repeats task ids; each id must be unique")
    return tasks


def suite_checker(tasks: Sequence[SuiteTask]) -> Checker:
    """Reflexion's checker for a suite: each task's expected strings, never revealed; a failed
    attempt is told the task's ``feedback`` (like a failing test's message), if it has one."""
    checks = {t.task: (expect_all(*t.expect, reveal=False), t.feedback) for t in tasks}

    def check(task: str, answer: str) -> bool | Verdict:
        if task not in checks:
            return Verdict(False, "unknown task")
        verdict = checks[task][0](task, answer)
        passed = verdict if isinstance(verdict, bool) else verdict.passed
        if passed or not checks[task][1]:
            return verdict
        return Verdict(False, checks[task][1])

    return check


def passes(task: SuiteTask, result: RunResult) -> bool:
    """Every expected string appears in the answer, ignoring case."""
    answer = result.answer.lower()
    return result.status == "done" and all(e.lower() in answer for e in task.expect)


def run_suite(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    tasks: list[SuiteTask],
    *,
    max_steps: int,
    trace_path: Path | None,
    on_result: Callable[[SuiteTask, RunResult, bool], None] | None = None,
) -> dict[str, Any]:
    """Run every task on a fresh thread; return the report of ``agentlab eval --json``."""
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    totals = {"prompt_tokens": 0, "completion_tokens": 0, "reused_prompt_tokens": 0}
    for task in tasks:
        tracer = Tracer(trace_path, task_id=task.id)
        try:
            result = run_task(
                graph, task.task, thread_id=f"eval-{uuid.uuid4().hex[:12]}",
                tracer=tracer, max_steps=max_steps,
            )  # fmt: skip
        finally:
            tracer.close()
        ok = passes(task, result)
        for key in totals:
            totals[key] += int(result.usage[key])
        rows.append(
            {
                "id": task.id,
                "passed": ok,
                "status": result.status,
                "answer": result.answer,
                "expect": list(task.expect),
                "steps": result.steps,
                "tool_calls": [c["name"] for c in result.tool_calls],
                "tokens": result.usage["prompt_tokens"] + result.usage["completion_tokens"],
                "wall_s": result.wall_s,
                "error": result.error,
                **({"extra": result.extra} if result.extra else {}),
            }
        )
        if on_result is not None:
            on_result(task, result, ok)
    passed = sum(row["passed"] for row in rows)
    return {
        "passed": passed,
        "total": len(rows),
        "success_rate": round(passed / len(rows), 4),
        "mean_steps": round(sum(r["steps"] for r in rows) / len(rows), 2),
        "usage": totals,
        "wall_s": round(time.perf_counter() - started, 2),
        "tasks": rows,
    }
