"""Comparing two saved ``agentlab eval --json`` reports: what flipped, success by task kind,
and what it cost (tokens, model calls, median task time), B against A. No model is loaded."""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from agentlab.cli._figure import pyplot, save_png
from agentlab.errors import UsageError

__all__ = [
    "Report",
    "TaskStats",
    "compare",
    "compare_reports",
    "draw_kind_chart",
    "load_report",
    "print_comparison",
]

_CHANGES = {"fail_to_pass": "fail → pass", "pass_to_fail": "pass → fail", "unchanged": ""}


@dataclass(frozen=True)
class TaskStats:
    """One task of a report over its runs; costs are means per run, so reports with different
    ``--repeat`` compare fairly."""

    id: str
    kind: str
    passes: int
    runs: int
    tokens: float
    model_calls: float
    wall_s: tuple[float, ...]  # every run's

    @property
    def pass_rate(self) -> float:
        return self.passes / self.runs

    @property
    def passing(self) -> bool:
        """The task's verdict: it passed in most of its runs (a 1-of-2 tie is not a pass)."""
        return self.pass_rate > 0.5


@dataclass(frozen=True)
class Report:
    path: Path
    suite: str
    repeat: int
    tasks: dict[str, TaskStats]  # by id, in the report's order


def _number(run: dict[str, Any], keys: tuple[str, ...], where: str) -> float:
    """The first of ``keys`` the run has (older reports lack the newer names), as a number."""
    for key in keys:
        value = run.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    raise UsageError(f'{where}: needs a number "{keys[0]}"')


def _task(row: Any, where: str) -> TaskStats:
    if not isinstance(row, dict) or not isinstance(row.get("id"), str):
        raise UsageError(f'{where}: each task must be an object with a string "id"')
    where = f"{where}: task {row['id']}"
    # A report from before --repeat has no "runs": the row is its one run.
    runs = row.get("runs", [row])
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) for r in runs):
        raise UsageError(f'{where}: "runs" must be a non-empty list of objects')
    if not all(isinstance(r.get("passed"), bool) for r in runs):
        raise UsageError(f'{where}: every run needs "passed": true or false')
    kind = row.get("kind", "")
    count = len(runs)
    return TaskStats(
        id=row["id"],
        kind=kind if isinstance(kind, str) else "",
        passes=sum(r["passed"] for r in runs),
        runs=count,
        tokens=sum(_number(r, ("tokens",), where) for r in runs) / count,
        model_calls=sum(_number(r, ("model_calls", "steps"), where) for r in runs) / count,
        wall_s=tuple(_number(r, ("wall_s",), where) for r in runs),
    )


def load_report(path: Path) -> Report:
    """Read a saved ``agentlab eval --json`` report; anything else is a usage error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no such report: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read report {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not JSON ({exc.msg} at line {exc.lineno})") from None
    tasks = data.get("tasks") if isinstance(data, dict) else None
    if not isinstance(tasks, list) or not tasks:
        raise UsageError(
            f'{path} is not an agentlab eval report (no "tasks" list); save one with '
            f"agentlab eval SUITE --json > {path.name}"
        )
    stats = [_task(row, str(path)) for row in tasks]
    by_id = {task.id: task for task in stats}
    if len(by_id) != len(stats):
        raise UsageError(f"{path} repeats task ids; it is not a single eval report")
    suite, repeat = data.get("suite", ""), data.get("repeat", 1)
    return Report(path, suite if isinstance(suite, str) else "",
                  repeat if isinstance(repeat, int) else 1, by_id)  # fmt: skip


def _pair(a: float, b: float, digits: int) -> dict[str, float | None]:
    return {"a": round(a, digits), "b": round(b, digits), "ratio": round(b / a, 3) if a else None}


def _side(task: TaskStats) -> dict[str, Any]:
    return {"passes": task.passes, "runs": task.runs, "pass_rate": round(task.pass_rate, 4)}


def _change(a: TaskStats, b: TaskStats) -> str:
    if a.passing == b.passing:
        return "unchanged"
    return "fail_to_pass" if b.passing else "pass_to_fail"


def _rate(tasks: list[TaskStats]) -> float:
    return round(statistics.fmean(t.pass_rate for t in tasks), 4)


def compare(a: Report, b: Report) -> dict[str, Any]:
    """B against A over the task ids both reports have (a warning names the others).

    A task flips when its verdict (passing in most runs) changes; the pass rates show smaller
    moves. Totals are per pass through the common tasks: summed mean tokens and model calls per
    task, and the median wall time over every run.
    """
    common = [task_id for task_id in a.tasks if task_id in b.tasks]
    if not common:
        raise UsageError(f"{a.path} and {b.path} have no task id in common: nothing to compare")
    warnings: list[str] = []
    if Path(a.suite).name != Path(b.suite).name:
        warnings.append(f"the reports are of different suites ({a.suite or '?'} and "
                        f"{b.suite or '?'}); comparing the {len(common)} common tasks")  # fmt: skip
    for name, report, other in (("A", a, b), ("B", b, a)):
        only = [task_id for task_id in report.tasks if task_id not in other.tasks]
        if only:
            warnings.append(f"{len(only)} task(s) only in {name}, left out: {', '.join(only)}")
    pairs = [(a.tasks[task_id], b.tasks[task_id]) for task_id in common]
    kinds: dict[str, list[tuple[TaskStats, TaskStats]]] = {}
    tasks: list[dict[str, Any]] = []
    for ta, tb in pairs:
        kind = tb.kind or ta.kind  # a kind added to the suite since A still groups A's run
        kinds.setdefault(kind, []).append((ta, tb))
        tasks.append({"id": ta.id, "kind": kind, "a": _side(ta), "b": _side(tb),
                      "change": _change(ta, tb)})  # fmt: skip
    a_side, b_side = [ta for ta, _ in pairs], [tb for _, tb in pairs]
    return {
        "a": str(a.path),
        "b": str(b.path),
        "suite": {"a": a.suite, "b": b.suite},
        "repeat": {"a": a.repeat, "b": b.repeat},
        "success": {"a": _rate(a_side), "b": _rate(b_side), "total": len(pairs)},
        "flips": {change: sum(t["change"] == change for t in tasks) for change in _CHANGES},
        "tasks": tasks,
        "by_kind": {
            kind: {
                "total": len(group),
                "a": _rate([ta for ta, _ in group]),
                "b": _rate([tb for _, tb in group]),
            }
            for kind, group in sorted(kinds.items())
        },
        "totals": {
            "tokens": _pair(sum(t.tokens for t in a_side), sum(t.tokens for t in b_side), 1),
            "model_calls": _pair(
                sum(t.model_calls for t in a_side), sum(t.model_calls for t in b_side), 2
            ),
            "median_wall_s": _pair(
                statistics.median(s for t in a_side for s in t.wall_s),
                statistics.median(s for t in b_side for s in t.wall_s),
                3,
            ),
        },
        "warnings": warnings,
    }


def _kind_label(kind: str) -> str:
    return kind or "(none)"


def print_comparison(out: Console, comparison: dict[str, Any]) -> None:
    """The comparison as tables: per task, per kind, and the totals with B/A."""
    out.print(f"A = {comparison['a']}\nB = {comparison['b']}")
    tasks = Table(title="tasks")
    for column in ("task", "kind", "A", "B", "change"):
        tasks.add_column(column)
    for row in comparison["tasks"]:
        change = _CHANGES[row["change"]]
        style = {"fail_to_pass": "green", "pass_to_fail": "red"}.get(row["change"], "")
        tasks.add_row(
            row["id"], row["kind"], f"{row['a']['passes']}/{row['a']['runs']}",
            f"{row['b']['passes']}/{row['b']['runs']}", f"[{style}]{change}[/]" if style else "",
        )  # fmt: skip
    out.print(tasks)
    kinds = Table("kind", "tasks", "A", "B", title="success by kind")
    for kind, group in comparison["by_kind"].items():
        kinds.add_row(_kind_label(kind), str(group["total"]), f"{group['a']:.0%}",
                      f"{group['b']:.0%}")  # fmt: skip
    success = comparison["success"]
    kinds.add_row("all", str(success["total"]), f"{success['a']:.0%}", f"{success['b']:.0%}")
    out.print(kinds)
    totals = Table("per pass over the common tasks", "A", "B", "B/A", title="cost")
    for name, pair in comparison["totals"].items():
        ratio = "n/a" if pair["ratio"] is None else f"{pair['ratio']:.2f}"
        totals.add_row(name.replace("_", " "), f"{pair['a']:g}", f"{pair['b']:g}", ratio)
    out.print(totals)
    flips = comparison["flips"]
    out.print(
        f"{flips['fail_to_pass']} fail → pass · {flips['pass_to_fail']} pass → fail · "
        f"{flips['unchanged']} unchanged"
    )


def draw_kind_chart(comparison: dict[str, Any], path: Path) -> None:
    """A grouped bar chart of success rate by task kind (and over all), A beside B; written
    atomically (temp file, then rename) so a reader never sees half a PNG."""
    plt = pyplot()
    groups = {_kind_label(k): g for k, g in comparison["by_kind"].items()}
    groups["all"] = comparison["success"]
    x = range(len(groups))
    width = 0.38
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(groups) + 1.5), 3.6))
    for offset, side, color in ((-width / 2, "a", "#9e9ac8"), (width / 2, "b", "#54278f")):
        rates = [100 * g[side] for g in groups.values()]
        bars = ax.bar([i + offset for i in x], rates, width, color=color,
                      label=f"{side.upper()}: {Path(comparison[side]).name}")  # fmt: skip
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.set_xticks(list(x), list(groups))
    ax.set_ylim(0, 110)
    ax.set_ylabel("success rate (%)")
    ax.set_title("success rate by task kind")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=2)  # off bars
    save_png(fig, path)


def compare_reports(
    a_path: Path, b_path: Path, *, png: Path | None, as_json: bool, out: Console, err: Console
) -> None:
    """``agentlab eval --compare A.json B.json``: check, compare, print, and draw."""
    if png is not None and not png.parent.exists():
        raise UsageError(f"cannot write {png}: folder {png.parent} does not exist")
    comparison = compare(load_report(a_path), load_report(b_path))
    for warning in comparison["warnings"]:
        err.print(f"[yellow]warning:[/] {warning}")
    if png is not None:
        draw_kind_chart(comparison, png)
        err.print(f"wrote {png}")
    if as_json:
        sys.stdout.write(json.dumps(comparison, ensure_ascii=False) + "\n")
    else:
        print_comparison(out, comparison)
