"""Cost-aware tool use: the same suite with and without agentlab's tool offer.

Each arm runs `agentlab eval --json` in a fresh AGENTLAB_HOME (its own tool statistics), then
sums the declared cost of every tool call and counts failed calls from `agentlab tools stats`.

    .venv/bin/python bench/cost_bench.py [--out docs/cost_bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from agentlab.tools import load_tools, meta_of

SUITE = "examples/suites/overlap.jsonl"
TOOLS = "examples.overlap_tools:TOOLS"


def arm(cost_aware: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "AGENTLAB_HOME": home, "AGENTLAB_COST_AWARE": str(cost_aware)}
        agentlab = [sys.executable, "-m", "agentlab"]
        done = subprocess.run(
            [*agentlab, "eval", SUITE, "--tools", TOOLS, "--json"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        report = json.loads(done.stdout)
        stats = subprocess.run(
            [*agentlab, "tools", "stats", "--json"],
            env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
    costs = {t.name: meta_of(t).cost for t in load_tools(TOOLS)}
    calls = [name for row in report["tasks"] for name in row["tool_calls"]]
    per_tool = {row["name"]: row for row in json.loads(stats.stdout)["tools"]}
    return {
        "cost_aware": cost_aware,
        "passed": report["passed"],
        "total": report["total"],
        "tool_calls": len(calls),
        "calls_by_tool": {name: calls.count(name) for name in sorted(set(calls))},
        "total_cost": round(sum(costs[name] for name in calls), 2),
        "failed_attempts": sum(row["failures"] for row in per_tool.values()),
        "median_task_s": statistics.median(row["wall_s"] for row in report["tasks"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/cost_bench.json"))
    args = parser.parse_args()
    results = [arm(False), arm(True)]
    for result in results:
        print(json.dumps(result))
    args.out.write_text(json.dumps({"suite": SUITE, "arms": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
