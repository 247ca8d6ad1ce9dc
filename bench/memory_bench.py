"""Memory benchmark: retrieval quality on the labeled set, recall latency and write throughput.

    .venv/bin/python bench/memory_bench.py retrieval [--embedder llama|llama-mean|minilm|hash]
    .venv/bin/python bench/memory_bench.py latency --sizes 1000 10000
    .venv/bin/python bench/memory_bench.py throughput

``retrieval`` stores the 291 memories of bench/data/memory_retrieval.json and reports recall@1
and recall@3 of its 91 queries for dense, sparse and hybrid search, overall and per query style.
``latency`` fills a store with N synthetic memories and times recall (p50/p95) for each mode,
with the query embedding timed apart (it does not depend on N). ``throughput`` times writes.
Results are written to docs/memory_bench.json (merged by section).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from agentlab.config import load_settings
from agentlab.memory import LlamaCppEmbeddings, MemoryStore, MiniLMEmbeddings, NewMemory
from agentlab.models import resolve_model
from agentlab.testing import HashEmbeddings

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data" / "memory_retrieval.json"
RESULTS = ROOT / "docs" / "memory_bench.json"
MODES = ("dense", "sparse", "hybrid")


def embedder(name: str) -> Embeddings:
    if name == "hash":
        return HashEmbeddings(256)
    if name == "minilm":
        return MiniLMEmbeddings()
    settings = load_settings()
    path = resolve_model(settings.model, settings.model_dir)
    pooling = "mean" if name == "llama-mean" else "eol"
    return LlamaCppEmbeddings(path, pooling=pooling, n_threads=settings.n_threads)


def retrieval(name: str) -> dict[str, Any]:
    data = json.loads(DATA.read_text())
    with tempfile.TemporaryDirectory() as folder:
        store = MemoryStore(Path(folder), embedder(name))
        started = time.perf_counter()
        store.add_many(
            [NewMemory(m["text"], m["namespace"], m["kind"], id=m["id"]) for m in data["memories"]]
        )
        write_s = time.perf_counter() - started
        per_mode: dict[str, Any] = {}
        for mode in MODES:
            hits: dict[str, list[tuple[bool, bool]]] = {}
            for number, query in enumerate(data["queries"]):
                found = [h.memory.id for h in store.search(query["query"], k=3, mode=mode)]
                relevant = set(query["relevant"])
                mark = (bool(relevant & set(found[:1])), bool(relevant & set(found[:3])))
                hits.setdefault("all", []).append(mark)
                hits.setdefault(query["style"], []).append(mark)
                # the fusion constants were chosen on the even-numbered queries
                hits.setdefault("held-out" if number % 2 else "tuning", []).append(mark)
            per_mode[mode] = {
                style: {
                    "queries": len(marks),
                    "recall@1": round(sum(a for a, _ in marks) / len(marks), 3),
                    "recall@3": round(sum(b for _, b in marks) / len(marks), 3),
                }
                for style, marks in hits.items()
            }
            overall = per_mode[mode]["all"]
            print(f"{name:10} {mode:7} recall@1 {overall['recall@1']:.3f} "
                  f"recall@3 {overall['recall@3']:.3f}", flush=True)  # fmt: skip
        store.close()
    return {
        "embedder": name,
        "memories": len(data["memories"]),
        "queries": len(data["queries"]),
        "embed_and_write_s": round(write_s, 1),
        "modes": per_mode,
    }


def _synthetic(count: int, seed: int = 7) -> list[NewMemory]:
    rng = random.Random(seed)
    words = json.loads(DATA.read_text())["memories"]
    vocabulary = sorted({w for m in words for w in m["text"].split()})
    return [
        NewMemory(" ".join(rng.choices(vocabulary, k=rng.randint(8, 30))), kind="note")
        for _ in range(count)
    ]


def latency(sizes: list[int], queries: int = 60) -> dict[str, Any]:
    """Recall latency at each size, hash embeddings in the store (the index is what grows)."""
    data = json.loads(DATA.read_text())
    asked = [q["query"] for q in data["queries"]][:queries]
    out: dict[str, Any] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory() as folder:
            store = MemoryStore(Path(folder), HashEmbeddings(256))
            items = _synthetic(size)
            for start in range(0, size, 500):
                store.add_many(items[start : start + 500])
            out[str(size)] = {}
            for mode in MODES:
                times = []
                for query in asked:
                    started = time.perf_counter()
                    store.search(query, k=5, mode=mode)
                    times.append((time.perf_counter() - started) * 1000)
                times.sort()
                p50 = statistics.median(times)
                p95 = times[int(0.95 * (len(times) - 1))]
                out[str(size)][mode] = {"p50_ms": round(p50, 2), "p95_ms": round(p95, 2)}
                print(f"{size:6} {mode:7} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms", flush=True)
            store.close()
    return out


def query_embedding(name: str, queries: int = 30) -> dict[str, float]:
    model = embedder(name)
    data = json.loads(DATA.read_text())
    model.embed_query("warm up")
    times = []
    for query in [q["query"] for q in data["queries"]][:queries]:
        started = time.perf_counter()
        model.embed_query(query)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    result = {"p50_ms": round(statistics.median(times), 1),
              "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1)}  # fmt: skip
    print(f"query embedding {name}: {result}", flush=True)
    return result


def throughput(name: str, count: int) -> dict[str, Any]:
    items = _synthetic(count, seed=11)
    out: dict[str, Any] = {"embedder": name, "memories": count}
    with tempfile.TemporaryDirectory() as folder:
        store = MemoryStore(Path(folder), embedder(name))
        started = time.perf_counter()
        for item in items[: count // 2]:  # one memory per call: each is its own transaction
            store.add_many([item])
        single = time.perf_counter() - started
        started = time.perf_counter()
        store.add_many(items[count // 2 :])
        batched = time.perf_counter() - started
        store.close()
    out["single_per_s"] = round((count // 2) / single, 1)
    out["batched_per_s"] = round((count - count // 2) / batched, 1)
    print(f"writes with {name}: {out}", flush=True)
    return out


def _save(section: str, value: Any) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.setdefault(section, {}).update(value)
    partial = RESULTS.with_suffix(".tmp")
    partial.write_text(json.dumps(results, indent=1) + "\n")
    partial.replace(RESULTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["retrieval", "latency", "throughput"])
    parser.add_argument("--embedder", default="llama")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--count", type=int, default=200)
    args = parser.parse_args()
    if args.what == "retrieval":
        _save("retrieval", {args.embedder: retrieval(args.embedder)})
    elif args.what == "latency":
        embedding = query_embedding(args.embedder)
        _save("latency", {"store_ms": latency(args.sizes), f"query_{args.embedder}": embedding})
    else:
        _save("throughput", {args.embedder: throughput(args.embedder, args.count)})
    print(f"written to {RESULTS.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
