"""Prefill and decode speed with llama.cpp's extra CPU buffers on and off, side by side.

Each round runs the doctor's probe (256-token prefill, 32-token decode, in a child process, so
a crash is recorded, not fatal) once per configuration, alternating so machine noise hits all.
A configuration is ``LABEL=auto|on|off`` or ``LABEL=auto|on|off@SITE``: SITE is a folder put
first on PYTHONPATH, e.g. an unpacked llama-cpp-python wheel built with other CMake flags.

    .venv/bin/python bench/extra_buffers_bench.py [--model NAME|PATH] [--rounds 5] \\
        [--config off=off --config on=on ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from typing import Any

from agentlab.cli._doctor import describe_exit
from agentlab.config import FAST_MODEL, load_settings
from agentlab.llm._native import build_info, cpu_flags, has_amx, machine
from agentlab.models import resolve_model


def run_probe(model: str, choice: str, site: str | None, threads: int) -> dict[str, Any]:
    env = dict(os.environ)
    if site:
        env["PYTHONPATH"] = os.pathsep.join([site, env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "agentlab.cli._probe", "generate", "--model", model,
               "--extra-buffers", choice, "--threads", str(threads)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return {"error": describe_exit(done.returncode, done.stderr)}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=FAST_MODEL)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--config", action="append", default=[])
    args = parser.parse_args()
    configs = [c.partition("=")[::2] for c in args.config] or [("off", "off"), ("on", "on")]
    settings = load_settings()
    model = str(resolve_model(args.model, settings.model_dir))
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in configs}
    for _ in range(args.rounds):
        for label, spec in configs:
            choice, _, site = spec.partition("@")
            runs[label].append(run_probe(model, choice, site or None, settings.n_threads))
    summary = {}
    for label, results in runs.items():
        good = [r for r in results if "error" not in r]
        errors = sorted({r["error"] for r in results if "error" in r})
        summary[label] = {
            "ok_runs": len(good),
            "errors": errors,
            "prefill_tok_s_median": statistics.median(r["prefill_tok_s"] for r in good)
            if good
            else None,
            "decode_tok_s_median": statistics.median(r["decode_tok_s"] for r in good)
            if good
            else None,
            "buffers": good[0]["buffers"] if good else None,
        }
    report = {
        "cpu": machine(),
        "amx": has_amx(),
        "flags": sorted(f for f in cpu_flags() if f.startswith(("avx", "amx"))),
        "build": build_info(),
        "python": platform.python_version(),
        "model": args.model,
        "threads": settings.n_threads,
        "rounds": args.rounds,
        "configs": dict(configs),
        "summary": summary,
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
