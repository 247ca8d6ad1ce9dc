"""Decode speed through agentlab's chat model versus raw llama_cpp.Llama, side by side.

Both load the same GGUF with the same settings and decode after the same prompt (the one the
chat model renders); rounds alternate so machine noise hits both.
Decode rate = (generated tokens - 1) / time from first to last token, so prefill is excluded.

    .venv/bin/python bench/decode_bench.py [--rounds 5] [--tokens 128]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from langchain_core.messages import HumanMessage

from agentlab.config import load_settings
from agentlab.llm import LlamaChatModel, extra_buffers_enabled, load_llama
from agentlab.llm.protocol import render_prompt
from agentlab.models import resolve_model

TASK = "Write a detailed paragraph about how lighthouses guided ships before GPS existed."


def raw_rate(llama: object, prompt: str, tokens: int) -> float:
    started = first = time.perf_counter()
    count = 0
    for _ in llama.create_completion(  # type: ignore[attr-defined]
        prompt, max_tokens=tokens, temperature=0.0, stream=True
    ):
        count += 1
        if count == 1:
            first = time.perf_counter()
    del started
    return (count - 1) / (time.perf_counter() - first)


def agentlab_rate(model: LlamaChatModel) -> float:
    message = model.invoke([HumanMessage(TASK)])
    generated = message.usage_metadata["output_tokens"]  # type: ignore[index]
    return (generated - 1) / (message.response_metadata["decode_ms"] / 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()

    settings = load_settings(max_answer_tokens=args.tokens)
    path = resolve_model(settings.model, settings.model_dir)
    model = LlamaChatModel.from_settings(settings)
    raw = load_llama(
        path, extra_buffers=extra_buffers_enabled(settings.cpu_extra_buffers),
        n_ctx=settings.n_ctx, n_threads=settings.n_threads,
        n_threads_batch=settings.n_threads_batch,
    ).llama  # fmt: skip
    prompt = render_prompt([HumanMessage(TASK)], [])  # exactly what the chat model sends
    raw_rates, ours = [], []
    for _ in range(args.rounds):
        raw_rates.append(raw_rate(raw, prompt, args.tokens))
        ours.append(agentlab_rate(model))
    result = {
        "rounds": args.rounds,
        "max_tokens": args.tokens,
        "raw_tok_s_median": round(statistics.median(raw_rates), 2),
        "agentlab_tok_s_median": round(statistics.median(ours), 2),
        "ratio": round(statistics.median(ours) / statistics.median(raw_rates), 3),
        "raw_tok_s": [round(r, 2) for r in raw_rates],
        "agentlab_tok_s": [round(r, 2) for r in ours],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
