"""Task suites: loading JSONL suites and scoring a pattern on them."""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.graph.state import CompiledStateGraph

from agentlab.cli._grounding import Judge, grounding_scores, grounding_summary, mean_grounding
from agentlab.cli._run import RunResult, run_task
from agentlab.errors import UsageError
from agentlab.graphs.reflexion import Checker, Verdict, expect_all
from agentlab.tracing import Tracer

__all__ = [
    "SuiteTask",
    "load_suite",
    "passes",
    "run_row",
    "run_suite",
    "suite_checker",
    "suite_summary",
    "task_row",
]


@dataclass(frozen=True)
class SuiteTask:
    id: str
    task: str
    expect: tuple[str, ...]
    feedback: str = ""  # what a failed attempt is told (reflexion), never the expected values
    kind: str = ""  # a label to group results by, e.g. "single", "two-step", "no-tool"
    sources: tuple[str, ...] = ()  # documents that hold the answer: retrieval is scored too


def load_suite(path: Path) -> list[SuiteTask]:
    """Read ``{"id", "task", "expect": [...], "feedback"?: str, "kind"?: str, "sources"?:
    [...]}`` lines; blank lines are skipped."""
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
        kind = data.get("kind", "")
        if not isinstance(kind, str):
            raise UsageError(f'{where}: "kind" must be a string')
        sources = data.get("sources", [])
        if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
            raise UsageError(f'{where}: "sources" must be a list of file names')
        tasks.append(SuiteTask(task_id, task, tuple(expect), feedback, kind, tuple(sources)))
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


def run_row(task: SuiteTask, result: RunResult) -> dict[str, Any]:
    """One run of one task, as reported; ``steps`` and ``model_calls`` are the same count (the
    tracer's ``model_call`` events), ``model_calls`` names it for comparisons."""
    usage = result.usage
    return {
        "id": task.id,
        "passed": passes(task, result),
        "status": result.status,
        "answer": result.answer,
        "expect": list(task.expect),
        "steps": result.steps,
        "tool_calls": [c["name"] for c in result.tool_calls],
        "tokens": int(usage["prompt_tokens"] + usage["completion_tokens"]),
        "wall_s": result.wall_s,
        "error": result.error,
        "model_calls": result.steps,
        "prompt_tokens": int(usage["prompt_tokens"]),
        "completion_tokens": int(usage["completion_tokens"]),
        "reused_prompt_tokens": int(usage["reused_prompt_tokens"]),
        **({"extra": result.extra} if result.extra else {}),
    }


_MEANS = {  # numeric fields of a task row that become means over repeats, and their rounding
    "steps": 2, "tokens": 1, "wall_s": 3, "model_calls": 2, "prompt_tokens": 1,
    "completion_tokens": 1, "reused_prompt_tokens": 1,
}  # fmt: skip


def task_row(task: SuiteTask, runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A task's row over its runs: today's fields (the first run's text, the runs' mean numbers;
    ``passed`` is the mean too when there are several runs), ``kind``, ``pass_rate`` and
    ``runs``. One run gives exactly that run's row, so single-run reports keep their types."""
    if not runs:
        raise ValueError(f"task {task.id} has no runs")
    rate = sum(bool(r["passed"]) for r in runs) / len(runs)
    row = {"id": task.id, "kind": task.kind, **runs[0], "pass_rate": round(rate, 4)}
    if len(runs) > 1:
        row["passed"] = round(rate, 4)
        for key, digits in _MEANS.items():
            row[key] = round(statistics.fmean(r[key] for r in runs), digits)
        if "grounding" in row:
            row["grounding"] = mean_grounding([r["grounding"] for r in runs])
    row["runs"] = list(runs)
    return row


def _mean_or_count(value: float, repeat: int) -> float:
    """A per-repeat count: an int with one repeat, so single-run reports keep their types."""
    return int(value) if repeat == 1 else round(value, 2)


def suite_summary(rows: Sequence[dict[str, Any]], repeat: int) -> dict[str, Any]:
    """The report's summary over task rows that each hold ``repeat`` runs.

    ``passed`` is the mean passes per repeat (the count itself with one repeat); ``repeats``
    gives every repeat's count and their spread (sample standard deviation, 0 for one repeat);
    ``by_kind`` groups the tasks by their ``kind`` ("" for none); token, call and time totals
    cover every run, ``median_wall_s`` is over every run of every task.
    """
    if not rows or repeat < 1 or any(len(r["runs"]) != repeat for r in rows):
        raise ValueError(f"every task row needs {repeat} runs")
    runs = [run for row in rows for run in row["runs"]]
    per_repeat = [sum(bool(row["runs"][i]["passed"]) for row in rows) for i in range(repeat)]
    mean = statistics.fmean(per_repeat)
    kinds: dict[str, dict[str, Any]] = {}
    for row in rows:
        group = kinds.setdefault(row["kind"], {"passed": 0.0, "total": 0})
        group["passed"] += sum(bool(run["passed"]) for run in row["runs"]) / repeat  # unrounded
        group["total"] += 1
    by_kind = {
        kind: {
            "passed": _mean_or_count(g["passed"], repeat),
            "total": g["total"],
            "success_rate": round(g["passed"] / g["total"], 4),
        }
        for kind, g in sorted(kinds.items())
    }
    return {
        "passed": _mean_or_count(mean, repeat),
        "total": len(rows),
        "success_rate": round(mean / len(rows), 4),
        "repeat": repeat,
        "repeats": {
            "passed": per_repeat,
            "mean": round(mean, 4),
            "stdev": round(statistics.stdev(per_repeat), 4) if repeat > 1 else 0.0,
        },
        "by_kind": by_kind,
        "mean_steps": round(statistics.fmean(r["steps"] for r in runs), 2),
        "model_calls": sum(r["model_calls"] for r in runs),
        "usage": {
            key: sum(r[key] for r in runs)
            for key in ("prompt_tokens", "completion_tokens", "reused_prompt_tokens")
        },
        "median_wall_s": round(statistics.median(r["wall_s"] for r in runs), 3),
    }


def run_suite(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    tasks: list[SuiteTask],
    *,
    max_steps: int,
    trace_path: Path | None,
    repeat: int = 1,
    on_result: Callable[[SuiteTask, RunResult, bool, int], None] | None = None,
    judge: Judge | None = None,
) -> dict[str, Any]:
    """Run every task ``repeat`` times, each on a fresh thread; return the report of
    ``agentlab eval --json``. A repeat runs the whole suite before the next begins, so a slow
    spell on a shared machine spreads over all tasks instead of landing on one;
    ``on_result`` hears each run with its repeat number (from 1). Runs of tasks with
    ``sources`` are scored on retrieval and faithfulness too (``grounding``), the latter by
    ``judge`` as well when one is given."""
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, not {repeat}")
    runs: dict[str, list[dict[str, Any]]] = {task.id: [] for task in tasks}
    started = time.perf_counter()
    for number in range(1, repeat + 1):
        for task in tasks:
            context = {"task_id": task.id, **({"repeat": number} if repeat > 1 else {})}
            tracer = Tracer(trace_path, **context)
            try:
                result = run_task(
                    graph, task.task, thread_id=f"eval-{uuid.uuid4().hex[:12]}",
                    tracer=tracer, max_steps=max_steps,
                )  # fmt: skip
            finally:
                tracer.close()
            row = run_row(task, result)
            if task.sources:
                row["grounding"] = grounding_scores(
                    task.sources, task.task, result.answer, result.tool_calls, judge=judge
                )
            runs[task.id].append(row)
            if on_result is not None:
                on_result(task, result, row["passed"], number)
    rows = [task_row(task, runs[task.id]) for task in tasks]
    grounding = grounding_summary(rows)
    return {
        **suite_summary(rows, repeat),
        **({"grounding": grounding} if grounding is not None else {}),
        "wall_s": round(time.perf_counter() - started, 2),
        "tasks": rows,
    }
