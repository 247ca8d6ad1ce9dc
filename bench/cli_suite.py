"""A suite the way a user meets it: every task a new `agentlab run PATTERN TASK --json` process.

This is how an outside harness sees agentlab, and it counts what `agentlab eval` does not:
process start, imports, loading the model, the prompt head's first prefill. Success uses eval's
rule (every expected string in the answer, ignoring case). All tasks share one fresh
AGENTLAB_HOME, as they would for one user (with memory on, later tasks recall earlier ones);
further flags go to `agentlab run`.

    .venv/bin/python bench/cli_suite.py SUITE.jsonl MODULE:ATTR [--pattern react] \\
        [--model NAME] [--out report.json] [--env-a KEY=VALUE ...] [--env-b KEY=VALUE ...]
        [--env-c KEY=VALUE ...] [--no-memory ...]

With --env-b or --env-c each task also runs with those environment variables, right after
the run with --env-a's (a separate home each), and the report compares each with the first.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agentlab.cli._eval import SuiteTask, load_suite


def run_task(
    args: argparse.Namespace, flags: list[str], task: str, env: dict[str, str]
) -> tuple[dict[str, Any], float]:
    command = [sys.executable, "-m", "agentlab", "run", args.pattern, task, "--tools", args.tools,
               "--json", *flags]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    try:
        return json.loads(done.stdout), wall
    except json.JSONDecodeError:
        return {"status": "failed", "answer": "", "error": done.stderr.strip()[-300:]}, wall


def row(task: SuiteTask, result: dict[str, Any], wall: float) -> dict[str, Any]:
    answer = str(result.get("answer") or "")
    ok = result.get("status") == "done" and all(e.lower() in answer.lower() for e in task.expect)
    usage = result.get("usage", {})
    return {"id": task.id, "kind": task.kind, "passed": ok, "wall_s": round(wall, 2),
            "steps": result.get("steps"), "answer": answer, "error": result.get("error"),
            "prompt_tokens": usage.get("prompt_tokens"),
            "reused_prompt_tokens": usage.get("reused_prompt_tokens"),
            "completion_tokens": usage.get("completion_tokens")}  # fmt: skip


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    kinds = sorted({r["kind"] for r in rows})
    return {
        "passed": sum(r["passed"] for r in rows), "total": len(rows),
        "median_wall_s": round(statistics.median(r["wall_s"] for r in rows), 2),
        "total_wall_s": round(sum(r["wall_s"] for r in rows), 1),
        "by_kind": {k: [sum(r["passed"] for r in rows if r["kind"] == k),
                        sum(r["kind"] == k for r in rows)] for k in kinds},
        "tasks": rows,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("suite", type=Path)
    parser.add_argument("tools")
    parser.add_argument("--pattern", default="react")
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--env-a", action="append", default=[], metavar="KEY=VALUE",
                        help="run each task with these variables")  # fmt: skip
    parser.add_argument("--env-b", action="append", default=[], metavar="KEY=VALUE",
                        help="also run each task with these variables (side by side)")  # fmt: skip
    parser.add_argument("--env-c", action="append", default=[], metavar="KEY=VALUE",
                        help="and with these (a third arm)")  # fmt: skip
    args, flags = parser.parse_known_args()
    configs = {"a": dict(pair.split("=", 1) for pair in args.env_a)}
    for name, pairs in (("b", args.env_b), ("c", args.env_c)):
        if pairs:
            configs[name] = dict(pair.split("=", 1) for pair in pairs)
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    with tempfile.TemporaryDirectory(prefix="agentlab-cli-bench-") as scratch:
        for task in load_suite(args.suite):
            for name, extra in configs.items():  # alternating, so noise hits both
                env = {**os.environ, "AGENTLAB_HOME": f"{scratch}/{name}", **extra}
                if args.model:
                    env["AGENTLAB_MODEL"] = args.model
                result, wall = run_task(args, flags, task.task, env)
                rows[name].append(row(task, result, wall))
                mark = "pass" if rows[name][-1]["passed"] else "FAIL"
                print(f"{name} {mark} {task.id} {wall:.1f}s {rows[name][-1]['answer'][:70]!r}",
                      file=sys.stderr)  # fmt: skip
    report: dict[str, Any] = {
        "suite": str(args.suite), "pattern": args.pattern, "model": args.model or "default",
        "flags": flags, "env": configs["a"], **summary(rows["a"]),
    }  # fmt: skip
    for name in [n for n in configs if n != "a"]:
        other = summary(rows[name])
        report[name] = {"env": configs[name], **other}
        report[f"median_wall_ratio_{name}_over_a"] = round(
            other["median_wall_s"] / report["median_wall_s"], 3
        )
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
