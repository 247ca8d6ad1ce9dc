"""Is the small model's tool choice a usable signal for routing a turn to the bigger model?

Runs suites with one model (the 0.5B by default), in-process, no memory, and records for every
action turn the margin of its branch choice: the least logit margin, among the tokens the grammar
allowed, over the words that choose between answering and calling a tool and name the tool. It
then reports, for thresholds of that margin, how many tasks would have stayed with the small
model and how many of those it solved: a good signal keeps many tasks and few failures.

    .venv/bin/python bench/cascade_signal.py SUITE:TOOLS [SUITE:TOOLS ...] [--model NAME]
        [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from agentlab.cli._eval import load_suite, passes
from agentlab.cli._run import run_task
from agentlab.config import load_settings
from agentlab.graphs import build_agent
from agentlab.llm import LlamaChatModel, LlamaEngine
from agentlab.llm.engine import Completion
from agentlab.llm.protocol import branch_margin
from agentlab.tracing import Tracer

THRESHOLDS = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("suites", nargs="+", help="SUITE.jsonl:MODULE:ATTR")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct-q4_k_m")
    parser.add_argument("--out", type=Path, default=Path("docs/cascade_signal.json"))
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp())
    settings = load_settings(home=home, model=args.model, memory=False)
    model = LlamaChatModel.from_settings(settings)
    engine = model.engine
    assert isinstance(engine, LlamaEngine)
    engine.measure_choices = True
    turns: list[Completion] = []
    complete = engine.complete

    def recording(prompt: str, **kwargs: Any) -> Completion:
        done = complete(prompt, **kwargs)
        turns.append(done)
        return done

    engine.complete = recording  # type: ignore[method-assign]
    rows = []
    for spec in args.suites:
        suite, tools = spec.split(":", 1)
        graph = build_agent("react", tools, settings=settings, model=model)
        for task in load_suite(Path(suite)):
            turns.clear()
            result = run_task(graph, task.task, thread_id=task.id, tracer=Tracer(None),
                              max_steps=settings.max_steps)  # fmt: skip
            margins = [branch_margin(t.text, t.choices) for t in turns]
            known = [m for m in margins if m is not None]
            rows.append({
                "suite": suite, "id": task.id, "kind": task.kind, "passed": passes(task, result),
                "turns": len(turns), "branch_margins": margins,
                "least": min(known) if known else None,
            })  # fmt: skip
            print(json.dumps(rows[-1]), file=sys.stderr)
    table = []
    for threshold in THRESHOLDS:
        kept = [r for r in rows if r["least"] is not None and r["least"] >= threshold]
        table.append({
            "threshold": threshold, "kept": len(kept),
            "kept_passed": sum(r["passed"] for r in kept), "tasks": len(rows),
            "escalated_passed_by_small": sum(r["passed"] for r in rows if r not in kept),
        })  # fmt: skip
    print(json.dumps(table, indent=2))
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps({"command": " ".join(sys.argv), "table": table, "tasks": rows},
                              indent=2) + "\n")  # fmt: skip
    tmp.replace(args.out)


if __name__ == "__main__":
    main()
