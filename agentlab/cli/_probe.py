"""Native smoke tests, run in a child process so a crash in llama.cpp cannot take the caller down.

    python -m agentlab.cli._probe generate|embed --model PATH --extra-buffers auto|on|off
        [--threads N]

prints one JSON object: ``generate`` prefills 256 tokens and decodes 32 (tok/s of each, and the
buffer types the weights went to); ``embed`` embeds one sentence (dimension and time).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

__all__ = ["DECODE_TOKENS", "PREFILL_TOKENS", "main"]

PREFILL_TOKENS = 256
DECODE_TOKENS = 32
_TEXT = "The lighthouse keeper wrote down the weather, the ships and the tides every hour. "


def generate(path: Path, extra_buffers: str, threads: int) -> dict[str, Any]:
    import numpy as np

    from agentlab.llm import extra_buffers_enabled, load_llama

    loaded = load_llama(
        path, extra_buffers=extra_buffers_enabled(extra_buffers),  # type: ignore[arg-type]
        n_ctx=1024, n_batch=512, n_threads=threads, n_threads_batch=threads,
    )  # fmt: skip
    llama = loaded.llama
    tokens = list(llama.tokenize((_TEXT * 40).encode(), add_bos=False))[:PREFILL_TOKENS]
    started = time.perf_counter()
    llama.eval(tokens)  # one multi-token batch: what crashed over AMX buffers
    prefilled = time.perf_counter()
    for _ in range(DECODE_TOKENS):
        llama.eval([int(np.argmax(llama.scores[llama.n_tokens - 1]))])
    decoded = time.perf_counter()
    return {
        "prefill_tokens": len(tokens),
        "prefill_tok_s": round(len(tokens) / (prefilled - started), 1),
        "decode_tokens": DECODE_TOKENS,
        "decode_tok_s": round(DECODE_TOKENS / (decoded - prefilled), 1),
        "buffers": loaded.buffers,
    }


def embed(path: Path, extra_buffers: str, threads: int) -> dict[str, Any]:
    from agentlab.memory import LlamaCppEmbeddings

    embedder = LlamaCppEmbeddings(path, n_threads=threads, extra_buffers=extra_buffers)  # type: ignore[arg-type]
    started = time.perf_counter()
    vector = embedder.embed_query(_TEXT * 4)
    return {"dimension": len(vector), "ms": round((time.perf_counter() - started) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["generate", "embed"])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--extra-buffers", default="auto", choices=["auto", "on", "off"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    probe = generate if args.kind == "generate" else embed
    print(json.dumps(probe(args.model, args.extra_buffers, args.threads)), flush=True)


if __name__ == "__main__":
    main()
