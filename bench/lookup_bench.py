"""Prompt-lookup decoding: the same suites with 0, 4 and 8 guessed tokens per decode step.

Each arm is one `agentlab eval --json` process (no memory) per suite, in a fresh AGENTLAB_HOME,
with AGENTLAB_LOOKUP_TOKENS set; the arms alternate within each round so machine noise hits all
of them. Reported per arm: tasks passed, median task wall time, completion tokens, and how many
answers differ from the arm without guesses (greedy decoding: only floating-point differences of
batched evaluation can change a token).

    .venv/bin/python bench/lookup_bench.py SUITE:TOOLS [SUITE:TOOLS ...] [--arms 0,4,8]
        [--rounds 1] [--model NAME] [--out FILE]
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


def eval_suite(suite: str, tools: str, lookup: int, model: str | None) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "AGENTLAB_HOME": home, "AGENTLAB_LOOKUP_TOKENS": str(lookup)}
        command = [sys.executable, "-m", "agentlab", "eval", suite, "--tools", tools]
        command += ["--json", *(["--model", model] if model else [])]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    rows: list[dict[str, Any]] = json.loads(done.stdout)["tasks"]
    return rows


def summary(rows: list[dict[str, Any]], baseline: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "passed": sum(bool(r["passed"]) for r in rows),
        "tasks": len(rows),
        "median_task_s": round(statistics.median(r["wall_s"] for r in rows), 2),
        "total_s": round(sum(r["wall_s"] for r in rows), 1),
        "completion_tokens": sum(r["completion_tokens"] for r in rows),
        "answers_differing_from_0": sum(
            r["answer"] != b["answer"] for r, b in zip(rows, baseline, strict=True)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("suites", nargs="+", help="SUITE.jsonl:MODULE:ATTR")
    parser.add_argument("--arms", default="0,4,8")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--model")
    parser.add_argument("--out", type=Path, default=Path("docs/lookup_bench.json"))
    args = parser.parse_args()
    arms = [int(a) for a in args.arms.split(",")]
    rows: dict[int, list[dict[str, Any]]] = {arm: [] for arm in arms}
    for round_ in range(args.rounds):
        for spec in args.suites:
            suite, tools = spec.split(":", 1)
            order = arms if round_ % 2 == 0 else arms[::-1]
            for arm in order:
                got = eval_suite(suite, tools, arm, args.model)
                rows[arm] += [{**r, "suite": suite, "round": round_} for r in got]
                print(arm, suite, sum(bool(r["passed"]) for r in got), file=sys.stderr)
    baseline = rows[arms[0]]
    result = {
        "command": " ".join(sys.argv),
        "arms": {str(arm): summary(rows[arm], baseline) for arm in arms},
        "tasks": {str(arm): rows[arm] for arm in arms},
    }
    print(json.dumps(result["arms"], indent=2))
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(args.out)


if __name__ == "__main__":
    main()
