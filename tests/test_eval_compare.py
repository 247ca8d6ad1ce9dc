"""`agentlab eval --compare`: two hand-written reports, no model."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import agentlab, assert_usage_error
from rich.console import Console

from agentlab.cli._compare import compare, compare_reports, load_report, print_comparison
from agentlab.errors import UsageError


def run(passed: bool, tokens: int, calls: int, wall_s: float) -> dict[str, Any]:
    return {"passed": passed, "status": "done", "answer": "", "steps": calls, "tokens": tokens,
            "wall_s": wall_s, "error": None, "model_calls": calls}  # fmt: skip


def old_row(
    task_id: str, kind: str, passed: bool, tokens: int, steps: int, wall_s: float
) -> dict[str, Any]:
    """A task row from before --repeat: no runs, no model_calls (steps count them)."""
    return {"id": task_id, "kind": kind, "passed": passed, "status": "done", "answer": "",
            "expect": [], "steps": steps, "tool_calls": [], "tokens": tokens, "wall_s": wall_s,
            "error": None}  # fmt: skip


REPORT_A: dict[str, Any] = {
    "suite": "examples/heldout/suite8.jsonl", "pattern": "react", "passed": 2, "total": 4,
    "success_rate": 0.5, "mean_steps": 3.5, "wall_s": 10.0,
    "usage": {"prompt_tokens": 900, "completion_tokens": 100, "reused_prompt_tokens": 0},
    "tasks": [
        old_row("t1", "single", True, 100, 2, 1.0),
        old_row("t2", "single", False, 300, 4, 3.0),
        old_row("t3", "two-step", True, 200, 3, 2.0),
        old_row("t4", "two-step", False, 400, 5, 4.0),
    ],
}  # fmt: skip


def new_row(task_id: str, kind: str, *runs: dict[str, Any]) -> dict[str, Any]:
    rate = sum(r["passed"] for r in runs) / len(runs)
    return {"id": task_id, "kind": kind, "passed": rate, "pass_rate": rate, "runs": list(runs)}


REPORT_B: dict[str, Any] = {
    "suite": "/elsewhere/examples/heldout/suite8.jsonl",  # the same suite, run from elsewhere
    "pattern": "react", "repeat": 2, "passed": 1.5, "total": 4,
    "tasks": [
        new_row("t1", "single", run(False, 50, 1, 0.5), run(False, 50, 1, 0.5)),
        new_row("t2", "single", run(True, 150, 2, 1.0), run(True, 250, 2, 2.0)),
        new_row("t3", "two-step", run(True, 100, 2, 1.0), run(False, 100, 2, 1.0)),
        new_row("t4", "two-step", run(False, 200, 3, 2.0), run(False, 200, 3, 2.0)),
    ],
}  # fmt: skip


def save(path: Path, report: object) -> Path:
    path.write_text(json.dumps(report))
    return path


@pytest.fixture
def reports(tmp_path: Path) -> tuple[Path, Path]:
    return save(tmp_path / "a.json", REPORT_A), save(tmp_path / "b.json", REPORT_B)


def test_flips_kinds_and_cost_ratios(reports: tuple[Path, Path]) -> None:
    result = compare(*(load_report(path) for path in reports))
    changes = {row["id"]: row["change"] for row in result["tasks"]}
    # t3 passed 1 of 2 in B: a tie is not a pass, so it flips.
    assert changes == {"t1": "pass_to_fail", "t2": "fail_to_pass", "t3": "pass_to_fail",
                       "t4": "unchanged"}  # fmt: skip
    assert result["flips"] == {"fail_to_pass": 1, "pass_to_fail": 2, "unchanged": 1}
    t3 = result["tasks"][2]
    assert t3["a"] == {"passes": 1, "runs": 1, "pass_rate": 1.0}
    assert t3["b"] == {"passes": 1, "runs": 2, "pass_rate": 0.5}
    assert result["by_kind"] == {
        "single": {"total": 2, "a": 0.5, "b": 0.5},
        "two-step": {"total": 2, "a": 0.5, "b": 0.25},
    }
    assert result["success"] == {"a": 0.5, "b": 0.375, "total": 4}
    # Costs are per pass over the suite, so B's two repeats count once.
    totals = result["totals"]
    assert totals["tokens"] == {"a": 1000, "b": 550, "ratio": 0.55}
    assert totals["model_calls"] == {"a": 14, "b": 8, "ratio": 0.571}
    assert totals["median_wall_s"] == {"a": 2.5, "b": 1.0, "ratio": 0.4}
    assert result["repeat"] == {"a": 1, "b": 2} and result["warnings"] == []


def test_the_tables_show_passes_per_run_and_the_ratios(reports: tuple[Path, Path]) -> None:
    console = Console(record=True, width=120)
    print_comparison(console, compare(*(load_report(path) for path in reports)))
    text = console.export_text()
    assert "pass → fail" in text and "fail → pass" in text and "1/2" in text
    assert "two-step" in text and "0.55" in text
    assert "1 fail → pass · 2 pass → fail · 1 unchanged" in text


def test_the_cli_prints_json_and_draws_a_png_atomically(
    reports: tuple[Path, Path], tmp_path: Path
) -> None:
    chart = tmp_path / "charts" / "kinds.png"
    chart.parent.mkdir()
    done = agentlab("eval", "--compare", *map(str, reports), "--png", str(chart), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["flips"]["pass_to_fail"] == 2
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(chart.parent) == ["kinds.png"]  # no temp file left behind


def test_different_suites_warn_and_compare_the_common_tasks(
    reports: tuple[Path, Path], tmp_path: Path
) -> None:
    tasks = [*REPORT_B["tasks"][:2], new_row("t9", "", run(True, 1, 1, 1.0))]
    other = {**REPORT_B, "suite": "examples/suites/tools.jsonl", "tasks": tasks}
    result = compare(load_report(reports[0]), load_report(save(tmp_path / "c.json", other)))
    assert [row["id"] for row in result["tasks"]] == ["t1", "t2"]
    assert any("different suites" in w for w in result["warnings"])
    assert "2 task(s) only in A, left out: t3, t4" in result["warnings"]
    assert "1 task(s) only in B, left out: t9" in result["warnings"]
    disjoint = {**REPORT_B, "tasks": [new_row("x", "", run(True, 1, 1, 1.0))]}
    with pytest.raises(UsageError, match="no task id in common"):
        compare(load_report(reports[0]), load_report(save(tmp_path / "d.json", disjoint)))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such report"),
        ("{not json", "is not JSON"),
        ("[1, 2]", "is not an agentlab eval report"),
        ('{"passed": 1}', "is not an agentlab eval report"),
        ('{"tasks": [{"id": "a", "tokens": 1, "wall_s": 1, "steps": 1}]}', '"passed": true'),
        ('{"tasks": [{"id": "a", "passed": true, "wall_s": 1, "steps": 1}]}', '"tokens"'),
        ('{"tasks": [{"passed": true}]}', 'a string "id"'),
    ],
)
def test_what_is_not_a_report_is_a_usage_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError, match=message):
        load_report(path)


def test_the_cli_shape_is_checked(reports: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = map(str, reports)
    assert_usage_error(agentlab("eval"), "give a SUITE to run, or --compare A.json B.json")
    assert_usage_error(agentlab("eval", "s.jsonl", "--compare", a, b), "not both")
    assert_usage_error(agentlab("eval", "--compare", a, b, "--repeat", "2"),
                       "--repeat only apply to running a suite")  # fmt: skip
    assert_usage_error(agentlab("eval", "s.jsonl", "--png", "x.png"), "use it with --compare")
    missing = str(tmp_path / "nope.json")
    assert_usage_error(agentlab("eval", "--compare", a, missing), "no such report")
    quiet = Console(file=io.StringIO())
    with pytest.raises(UsageError, match=r"folder .* does not exist"):
        compare_reports(*reports, png=tmp_path / "no" / "c.png", as_json=False, out=quiet,
                        err=quiet)  # fmt: skip
