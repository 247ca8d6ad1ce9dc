"""Every agent pattern on the multi-step and feedback suites, through `agentlab eval --json`.

    .venv/bin/python bench/patterns_bench.py [--out docs/patterns_bench.json] [PATTERN:SUITE ...]

SUITE is a name under examples/suites/ or a .jsonl path; PATTERN:SUITE:MODULE:ATTR names the
tools (the demo tools otherwise).

Writes one JSON report per (pattern, suite) as it goes; reflexion's pass@1 is the share of
tasks whose first trial passed (from each run's `extra`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

RUNS = [
    "react:multistep", "plan-execute:multistep", "reflexion:feedback", "react:feedback",
    "multi-agent:multistep", "plan-execute:feedback", "multi-agent:feedback",
    "reflexion:multistep",
]  # fmt: skip
TOOLS = "agentlab.tools.demo:TOOLS"


def run(pattern: str, suite: str, tools: str = TOOLS) -> dict[str, Any]:
    path = suite if suite.endswith(".jsonl") else f"examples/suites/{suite}.jsonl"
    with tempfile.TemporaryDirectory() as home:
        done = subprocess.run(
            [sys.executable, "-m", "agentlab", "eval", path,
             "--pattern", pattern, "--tools", tools, "--json"],
            env={**os.environ, "AGENTLAB_HOME": home}, capture_output=True, text=True,
            check=True,
        )  # fmt: skip
    report = json.loads(done.stdout)
    rows = report["tasks"]
    summary = {
        "pattern": pattern,
        "suite": suite,
        "passed": report["passed"],
        "total": report["total"],
        "mean_steps": report["mean_steps"],
        "tokens": report["usage"]["prompt_tokens"] + report["usage"]["completion_tokens"],
        "model_calls": sum(r["model_calls"] for r in rows),
        "prompt_tokens": report["usage"]["prompt_tokens"],
        "completion_tokens": report["usage"]["completion_tokens"],
        "median_task_s": report["median_wall_s"],
        "wall_s": report["wall_s"],
    }
    if pattern == "reflexion":
        firsts = [r for r in rows if (r.get("extra") or {}).get("passed_on_trial") == 1]
        summary["pass_at_1"] = len(firsts)
    return {"summary": summary, "tasks": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/patterns_bench.json"))
    parser.add_argument("runs", nargs="*", default=RUNS, help="PATTERN:SUITE")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    for item in args.runs:
        pattern, suite, *tools = item.split(":", 2)
        results.append(run(pattern, suite, *tools))
        print(json.dumps(results[-1]["summary"]), flush=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
