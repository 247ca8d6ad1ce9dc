"""Run a suite through the CLI contract, one `agentlab run --json` process per task.

This is how an outside harness sees agentlab: a fresh process per task, the user's tools loaded
with --tools, the answer read from the one JSON object on stdout.

    .venv/bin/python bench/cli_suite.py examples/suites/travel.jsonl examples.travel_tools:TOOLS
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def main() -> None:
    suite, tools = Path(sys.argv[1]), sys.argv[2]
    tasks = [json.loads(line) for line in suite.read_text().splitlines() if line.strip()]
    passed = 0
    for task in tasks:
        done = subprocess.run(
            [sys.executable, "-m", "agentlab", "run", "react", task["task"], "--tools", tools,
             "--json"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        result = json.loads(done.stdout)
        ok = result["status"] == "done" and all(
            e.lower() in result["answer"].lower() for e in task["expect"]
        )
        passed += ok
        calls = [c["name"] for c in result["tool_calls"]]
        print(f"{'pass' if ok else 'FAIL'} {task['id']}: {calls} {result['answer']!r}", flush=True)
    print(json.dumps({"suite": str(suite), "passed": passed, "total": len(tasks)}))


if __name__ == "__main__":
    main()
