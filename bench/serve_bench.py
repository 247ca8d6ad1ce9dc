"""Concurrent agent threads: the in-process model, one task at a time, against llama-server.

    .venv/bin/python bench/serve_bench.py SUITE.jsonl MODULE:ATTR [--pattern react] \\
        [--model NAME] [--concurrency 1,2,4,8] [--ctx 4096] [--port 8093] [--out report.json]

Each configuration runs every task of the suite once, each on its own thread id, in its own
fresh AGENTLAB_HOME, with memory off. In-process: one llama.cpp context in this process, the
tasks one after another (a context serves one conversation at a time). Server N: llama-server
started as `agentlab serve-model --parallel N` starts it (N slots of --ctx tokens, unified KV),
and N worker threads of this process taking the next task as they finish one, so N
conversations are in flight at once; each thread id keeps to its slot. Reported per
configuration: tasks per minute (tasks over the wall time of the whole suite), p50/p95 task
latency, success, reused prompt tokens per slot, and the KV bytes each slot can hold.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from agentlab import build_agent
from agentlab.cli._eval import SuiteTask, load_suite, run_row
from agentlab.cli._run import run_task
from agentlab.config import Settings, load_settings
from agentlab.gguf_info import read_model_info
from agentlab.llm._llama_server import start_server, stop_server
from agentlab.models import resolve_model
from agentlab.tracing import Tracer


def run_config(
    settings: Settings, tools: str, pattern: str, tasks: list[SuiteTask], workers: int
) -> dict[str, Any]:
    """Every task once on ``workers`` threads; the rows and the suite's wall time."""
    graph = build_agent(pattern, tools, settings=settings)

    def one(task: SuiteTask) -> dict[str, Any]:
        tracer = Tracer(None, task_id=task.id)
        result = run_task(graph, task.task, thread_id=f"bench-{uuid.uuid4().hex[:12]}",
                          tracer=tracer, max_steps=settings.max_steps)  # fmt: skip
        return run_row(task, result)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        rows = list(pool.map(one, tasks))
    return {"rows": rows, "wall_s": time.perf_counter() - started}


def summary(done: dict[str, Any], slots: int, kv_bytes_per_slot: int) -> dict[str, Any]:
    rows, wall = done["rows"], done["wall_s"]
    reused = sum(r["reused_prompt_tokens"] for r in rows)
    latencies = sorted(r["wall_s"] for r in rows)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    return {
        "slots": slots,
        "passed": sum(r["passed"] for r in rows),
        "total": len(rows),
        "tasks_per_min": round(60 * len(rows) / wall, 2),
        "wall_s": round(wall, 1),
        "latency_p50_s": round(statistics.median(latencies), 2),
        "latency_p95_s": round(p95, 2),
        "model_calls": sum(r["model_calls"] for r in rows),
        "prompt_tokens": sum(r["prompt_tokens"] for r in rows),
        "reused_prompt_tokens": reused,
        "reused_prompt_tokens_per_slot": round(reused / slots),
        "kv_bytes_per_slot": kv_bytes_per_slot,
        "failed": [r["id"] for r in rows if r["status"] == "failed"],
        "tasks": rows,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suite", type=Path)
    parser.add_argument("tools", help="MODULE:ATTR of the tools")
    parser.add_argument("--pattern", default="react")
    parser.add_argument("--model", default=None)
    parser.add_argument("--concurrency", default="1,2,4,8")
    parser.add_argument("--ctx", type=int, default=4096, help="tokens per conversation (slot)")
    parser.add_argument("--port", type=int, default=8093)
    parser.add_argument("--skip-in-process", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    tasks = load_suite(args.suite)
    levels = [int(n) for n in args.concurrency.split(",")]

    def settings(**extra: Any) -> Settings:
        home = Path(tempfile.mkdtemp(prefix="serve-bench-"))
        return load_settings(home=home, model=args.model, n_ctx=args.ctx, memory=False,
                             approval="none", **extra)  # fmt: skip

    base = settings()
    info = read_model_info(resolve_model(base.model, base.model_dir))
    kv_per_slot = round(args.ctx * info.kv_bytes_per_token(base.kv_type_k))
    report: dict[str, Any] = {
        "suite": str(args.suite), "pattern": args.pattern, "model": base.model, "ctx": args.ctx,
        "threads": base.n_threads, "cpu_count": os.cpu_count(), "configs": {},
    }  # fmt: skip
    if not args.skip_in_process:
        result = summary(run_config(base, args.tools, args.pattern, tasks, 1), 1, kv_per_slot)
        report["configs"]["in-process"] = result
        _say("in-process", result)
    for n in levels:
        home = settings()
        server = start_server(home, parallel=n, port=args.port)
        try:
            client = settings(backend=server.url)
            result = summary(run_config(client, args.tools, args.pattern, tasks, n), n, kv_per_slot)
        finally:
            stop_server(home)
        report["configs"][f"server-np{n}"] = result
        _say(f"server -np {n}", result)
    inproc = report["configs"].get("in-process")
    if inproc:
        for result in report["configs"].values():
            result["throughput_x"] = round(result["tasks_per_min"] / inproc["tasks_per_min"], 2)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if args.out:
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(args.out)
    else:
        print(text)
    return 0


def _say(name: str, result: dict[str, Any]) -> None:
    print(
        f"{name}: {result['passed']}/{result['total']} passed, {result['tasks_per_min']} "
        f"tasks/min, p50 {result['latency_p50_s']} s, p95 {result['latency_p95_s']} s, "
        f"reused {result['reused_prompt_tokens']}/{result['prompt_tokens']} prompt tokens",
        file=sys.stderr,
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
