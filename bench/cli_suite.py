"""Run a suite through the CLI contract, one `agentlab run --json` process per task.

This is how an outside harness sees agentlab: a fresh process per task, the user's tools loaded
with --tools, the answer read from the one JSON object on stdout.

    .venv/bin/python bench/cli_suite.py examples/suites/travel.jsonl examples.travel_tools:TOOLS
    .venv/bin/python bench/cli_suite.py SUITE TOOLS --no-memory   # extra flags go to `run`

All tasks share one fresh AGENTLAB_HOME, as they would for one user: with memory on (the
default), later tasks recall the episodes of earlier ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    suite, tools, flags = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    tasks = [json.loads(line) for line in suite.read_text().splitlines() if line.strip()]
    home = tempfile.mkdtemp(prefix="agentlab-suite-")
    env = {**os.environ, "AGENTLAB_HOME": home}
    passed = 0
    for task in tasks:
        done = subprocess.run(
            [sys.executable, "-m", "agentlab", "run", "react", task["task"], "--tools", tools,
             "--json", *flags],
            capture_output=True, text=True, check=False, env=env,
        )  # fmt: skip
        result = json.loads(done.stdout)
        ok = result["status"] == "done" and all(
            e.lower() in result["answer"].lower() for e in task["expect"]
        )
        passed += ok
        calls = [c["name"] for c in result["tool_calls"]]
        print(f"{'pass' if ok else 'FAIL'} {task['id']}: {calls} {result['answer']!r}", flush=True)
    print(json.dumps({"suite": str(suite), "flags": flags, "passed": passed, "total": len(tasks)}))


if __name__ == "__main__":
    main()
