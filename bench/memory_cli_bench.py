"""Cross-thread recall through the command line: facts told in one thread, questions asked in
new threads, every run its own `agentlab run react --json` process sharing one AGENTLAB_HOME.

    .venv/bin/python bench/memory_cli_bench.py [--no-memory]

Reports how many questions were answered with the expected value, with memory on (the
default) or, for comparison, off (`--no-memory` on the question runs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data" / "memory_cli.json"
TOOLS = "agentlab.tools.demo:TOOLS"


def run(task: str, env: dict[str, str], *flags: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "agentlab", "run", "react", task, "--tools", TOOLS, "--json",
         *flags],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> None:
    flags = sys.argv[1:]
    data = json.loads(DATA.read_text())
    env = {**os.environ, "AGENTLAB_HOME": tempfile.mkdtemp(prefix="agentlab-memory-")}
    for fact in data["facts"]:
        run(fact, env)
    passed = 0
    for question in data["questions"]:
        result = run(question["task"], env, *flags)
        answer = str(result["answer"])
        ok = all(e.lower() in answer.lower() for e in question["expect"])
        passed += ok
        print(f"{'pass' if ok else 'FAIL'} {question['task']!r}: {answer!r}", flush=True)
    total = len(data["questions"])
    print(json.dumps({"flags": flags, "passed": passed, "total": total}))


if __name__ == "__main__":
    main()
