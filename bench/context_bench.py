"""Context policies side by side: a long agent conversation on the real model.

One llama.cpp context per policy (``none``, ``sliding``, ``cache-aware``), turns interleaved so
the machine's noise hits all three alike. Every turn the model must call ``read_page`` (its
arguments are generated under the grammar) and the tool answers with a page whose size varies
from turn to turn. Per policy: prefill tokens, reuse ratio, per-turn latency (median, p95, slope
over the turn index), peak KV tokens, overflow. Writes a JSON report and a latency chart.

    .venv/bin/python bench/context_bench.py --turns 60 --ctx 2048 \\
        --chart docs/context_bench.png --report docs/context_bench.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from agentlab.config import load_settings
from agentlab.context import ContextState, ContextWindow
from agentlab.errors import ContextOverflowError
from agentlab.llm import LlamaChatModel
from agentlab.tools import as_tool
from agentlab.tracing import Tracer

POLICIES = ("none", "sliding", "cache-aware")
PAGE_WORDS = (30, 120, 15, 220, 60, 170, 40, 90)  # page sizes cycle through these


def read_page(page: int) -> str:
    """Read one page of the quarterly report.

    Args:
        page: the page number, starting at 1
    """
    words = PAGE_WORDS[page % len(PAGE_WORDS)]
    sentence = f"On page {page} the revenue of region {page % 9} grew by {page % 13} percent. "
    text = sentence * (words // 12 + 1)
    return " ".join(text.split()[:words])


@dataclass
class Run:
    """One policy's conversation and what each turn cost."""

    policy: str
    model: LlamaChatModel
    window: ContextWindow
    tracer: Tracer
    messages: list[BaseMessage] = field(default_factory=list)
    state: ContextState = field(default_factory=lambda: ContextState())
    latency_s: list[float] = field(default_factory=list)
    prefill_tokens: list[int] = field(default_factory=list)
    kv_tokens: list[int] = field(default_factory=list)
    overflow_turn: int | None = None

    def turn(self, index: int) -> None:
        usage = self.tracer.usage
        before = usage.prompt_tokens - usage.reused_prompt_tokens
        started = time.perf_counter()
        try:
            prepared = self.window.prepare(self.messages, self.state)
            bound = self.model.bind_tools([TOOL], tool_choice="read_page")
            response = bound.invoke(prepared.messages)
        except ContextOverflowError:
            self.overflow_turn = index + 1
            return
        self.latency_s.append(time.perf_counter() - started)
        self.prefill_tokens.append(usage.prompt_tokens - usage.reused_prompt_tokens - before)
        if prepared.update is not None:
            self.state = prepared.update
        assert isinstance(response, AIMessage) and response.tool_calls
        meta = response.usage_metadata or {"input_tokens": 0, "output_tokens": 0}
        self.kv_tokens.append(meta["input_tokens"] + meta["output_tokens"])
        call = response.tool_calls[0]
        page = index + 1  # the tool is deterministic in the turn, whatever page the model asks
        result = self.window.clip(ToolMessage(read_page(page), tool_call_id=call["id"] or ""))
        self.messages += [response, result]

    def report(self) -> dict[str, Any]:
        usage = self.tracer.usage
        lat = self.latency_s
        warm = lat[1:]  # the first turn prefills the head cold, alike for every policy
        slope = float(np.polyfit(np.arange(len(warm)), warm, 1)[0]) if len(warm) > 2 else 0.0
        return {
            "policy": self.policy,
            "turns_completed": len(lat),
            "overflowed_at_turn": self.overflow_turn,
            "prefill_tokens": usage.prompt_tokens - usage.reused_prompt_tokens,
            "prompt_tokens": usage.prompt_tokens,
            "reuse_ratio": round(usage.reused_prompt_tokens / max(usage.prompt_tokens, 1), 3),
            "latency_median_s": round(statistics.median(lat), 2) if lat else None,
            "latency_p95_s": round(float(np.percentile(lat, 95)), 2) if lat else None,
            "latency_slope_s_per_turn_after_turn_1": round(slope, 4),
            "peak_kv_tokens": max(self.kv_tokens, default=0),
            "prunes": self.state.get("prunes", 0),
            "latency_s": [round(x, 2) for x in lat],
            "prefill_tokens_per_turn": self.prefill_tokens,
        }


TOOL = as_tool(read_page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--ctx", "--n-ctx", dest="n_ctx", type=int, default=2048)
    parser.add_argument("--chart", type=Path, default=Path("docs/context_bench.png"))
    parser.add_argument("--report", type=Path, default=Path("docs/context_bench.json"))
    args = parser.parse_args()

    task = HumanMessage("Read the quarterly report page by page with read_page, from page 1 on.")
    runs = []
    for policy in POLICIES:
        settings = load_settings(n_ctx=args.n_ctx, context_policy=policy)
        model = LlamaChatModel.from_settings(settings)
        tracer = Tracer()
        model.callbacks = [tracer]  # counts every call, the summary writer's too
        window = ContextWindow.from_settings(model, [TOOL], settings)
        runs.append(Run(policy, model, window, tracer, messages=[task]))

    for index in range(args.turns):
        for run in runs:
            if run.overflow_turn is None:
                run.turn(index)
        line = "  ".join(
            f"{r.policy}: {r.latency_s[-1]:5.1f}s" if r.overflow_turn is None else f"{r.policy}: -"
            for r in runs
        )
        print(f"turn {index + 1:3d}  {line}", flush=True)

    reports = [run.report() for run in runs]
    by_policy = {r["policy"]: r for r in reports}
    ours, sliding = by_policy["cache-aware"], by_policy["sliding"]
    summary = {
        "command": "bench/context_bench.py "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
        "n_ctx": args.n_ctx,
        "budget": runs[0].window.budget,
        "prefill_ratio_ours_to_sliding": round(
            ours["prefill_tokens"] / max(sliding["prefill_tokens"], 1), 3
        ),
        "policies": reports,
    }
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(summary, indent=1) + "\n")
    _chart(reports, args.chart)
    for r in reports:
        print(json.dumps({k: v for k, v in r.items() if not isinstance(v, list)}))
    print(f"prefill tokens, ours / sliding: {summary['prefill_ratio_ours_to_sliding']}")


def _chart(reports: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for r in reports:
        label = r["policy"] + (
            f" (overflow at turn {r['overflowed_at_turn']})" if r["overflowed_at_turn"] else ""
        )
        ax.plot(range(1, len(r["latency_s"]) + 1), r["latency_s"], label=label)
    ax.set_xlabel("turn")
    ax.set_ylabel("latency per turn (s)")
    ax.set_title("Per-turn latency by context policy (real model, 2 CPU cores)")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
