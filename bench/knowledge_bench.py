"""Knowledge benchmark: retrieval quality on the example handbook, scale, answers and the judge.

    .venv/bin/python bench/knowledge_bench.py rewrites               # the model's rewrites, once
    .venv/bin/python bench/knowledge_bench.py retrieval [--embedder llama|hash]
    .venv/bin/python bench/knowledge_bench.py scale --chunks 10000 --embed-sample 200
    .venv/bin/python bench/knowledge_bench.py answers --patterns react rewoo ...
    .venv/bin/python bench/knowledge_bench.py judge

``rewrites`` asks the chat model for rewrites of every suite question (``rewrite_query``),
timing each call, and keeps them, so multi-query retrieval is measured on fixed rewrites.
``retrieval`` adds examples/knowledge/handbook/ once per chunking strategy and reports
recall@1/3/5 of the labelled sources and MRR for dense, sparse, hybrid and multi-query search,
for the development and test suites apart, plus how often the "not found" signal (no passage
matched by BM25) is right. ``scale`` writes synthetic Markdown documents until the knowledge
base holds about N chunks, and reports ingest chunks/s, size on disk and query p50/p95 per mode;
the store runs with feature-hashing vectors of the llama embedder's width (the index is what
grows), and the llama embedder's own cost (chunks/s on a sample, query embedding) is measured
apart. ``answers`` runs ``agentlab eval --knowledge`` on the test suite per pattern.
``judge`` compares the faithfulness judge (and the lexical check) with hand labels.
Results are written to docs/knowledge_bench.json (merged by section).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings

from agentlab.config import load_settings
from agentlab.memory import KnowledgeBase, embeddings_from_settings
from agentlab.testing import HashEmbeddings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "knowledge"
HANDBOOK = EXAMPLES / "handbook"
SUITES = {"dev": EXAMPLES / "suite_dev.jsonl", "test": EXAMPLES / "suite_test.jsonl"}
LABELS = EXAMPLES / "faithfulness_labels.jsonl"
RESULTS = ROOT / "docs" / "knowledge_bench.json"
CHUNKINGS = ("fixed", "headings", "parent-child")
MODES = ("dense", "sparse", "hybrid", "multi-query")
KS = (1, 3, 5)
COLLECTION = "handbook"
PATTERNS = ("react", "plan-execute", "reflexion", "multi-agent", "rewoo")


class CachedEmbeddings(Embeddings):
    """The same vectors for the same text without computing them twice (the llama embedder is
    deterministic): the strategies share many chunks and every mode embeds the same query."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.cache: dict[str, list[float]] = {}

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        for text, vector in zip(missing, self.inner.embed_documents(missing), strict=True):
            self.cache[text] = vector
        return [self.cache[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        if text not in self.cache:
            self.cache[text] = self.inner.embed_query(text)
        return self.cache[text]


def embedder(name: str) -> Embeddings:
    if name == "hash":
        return HashEmbeddings(256)
    return embeddings_from_settings(load_settings(embedder="llama"))


def suite(split: str) -> list[dict[str, Any]]:
    lines = SUITES[split].read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def percentiles(times: Sequence[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
    }


def _load(section: str) -> Any:
    return json.loads(RESULTS.read_text()).get(section) if RESULTS.exists() else None


def _save(section: str, value: Any) -> None:
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.setdefault(section, {}).update(value)
    partial = RESULTS.with_suffix(".tmp")
    partial.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    partial.replace(RESULTS)


# --- rewrites -------------------------------------------------------------------------------


def rewrites() -> dict[str, Any]:
    from agentlab.llm import LlamaChatModel
    from agentlab.memory import rewrite_query

    model = LlamaChatModel.from_settings(load_settings())
    out: dict[str, Any] = {"questions": {}}
    times = []
    for split in SUITES:
        for task in suite(split):
            started = time.perf_counter()
            written = rewrite_query(model, task["task"])
            times.append((time.perf_counter() - started) * 1000)
            out["questions"][task["task"]] = written
            print(f"{times[-1] / 1000:5.1f} s  {task['task']}\n         {written}", flush=True)
    out["call"] = percentiles(times)
    return out


# --- retrieval ------------------------------------------------------------------------------


def _ranks(passages: Sequence[Any], sources: Sequence[str]) -> list[bool]:
    return [p.source in sources for p in passages]


def retrieval(name: str) -> dict[str, Any]:
    written = (_load("rewrites") or {}).get("questions", {})
    tasks = {split: suite(split) for split in SUITES}
    model = CachedEmbeddings(embedder(name))
    out: dict[str, Any] = {"embedder": name, "strategies": {}}
    for chunking in CHUNKINGS:
        with tempfile.TemporaryDirectory() as folder:
            kb = KnowledgeBase.open(Path(folder), model, chunking=chunking)
            started = time.perf_counter()
            report = kb.add([HANDBOOK], collection=COLLECTION)
            ingest_s = time.perf_counter() - started
            stats = kb.stats()
            strategy: dict[str, Any] = {
                "chunks": stats.get("chunks"),
                "documents": len(report.added),
                "ingest_s": round(ingest_s, 1),
            }
            for split, questions in tasks.items():
                per_mode: dict[str, Any] = {}
                for mode in MODES:
                    if mode == "multi-query" and not all(q["task"] in written for q in questions):
                        continue
                    recall = {k: [] for k in KS}
                    reciprocal = []
                    flagged = []  # not-found questions: no passage matched by keywords
                    answerable = []  # the others: some passage matched
                    for question in questions:
                        extra = written.get(question["task"], []) if mode == "multi-query" else []
                        passages = kb.search(
                            question["task"],
                            collection=COLLECTION,
                            k=max(KS),
                            mode="hybrid" if mode == "multi-query" else mode,
                            rewrites=extra,
                        )
                        sources = question["sources"]
                        if not sources:
                            flagged.append(not any(p.matched for p in passages))
                            continue
                        answerable.append(any(p.matched for p in passages))
                        hits = _ranks(passages, sources)
                        for k in KS:
                            found = {p.source for p in passages[:k]} & set(sources)
                            recall[k].append(len(found) / len(sources))
                        reciprocal.append(1 / (hits.index(True) + 1) if True in hits else 0.0)
                    per_mode[mode] = {
                        **{f"recall@{k}": round(statistics.mean(v), 3) for k, v in recall.items()},
                        "mrr": round(statistics.mean(reciprocal), 3),
                        "not_found_flagged": f"{sum(flagged)}/{len(flagged)}",
                        "answerable_matched": f"{sum(answerable)}/{len(answerable)}",
                    }
                    row = per_mode[mode]
                    print(
                        f"{name:5} {chunking:12} {split:4} {mode:11} "
                        f"r@1 {row['recall@1']:.3f} r@3 {row['recall@3']:.3f} "
                        f"r@5 {row['recall@5']:.3f} mrr {row['mrr']:.3f} "
                        f"not-found flagged {row['not_found_flagged']} "
                        f"answerable matched {row['answerable_matched']}",
                        flush=True,
                    )
                strategy[split] = per_mode
            out["strategies"][chunking] = strategy
            kb.close()
    return out


# --- scale ----------------------------------------------------------------------------------

_TOPICS_TEXT = (
    "billing routing gateway sensor ledger relay firmware badge parking payroll release canary "
    "replica invoice vendor laptop"
)
_TOPICS = _TOPICS_TEXT.split()
_VOCABULARY = (
    "the a of to and in for on with by from at per each every after before within until "
    "team office service queue database page alert shard consumer batch report policy "
    "limit approval manager engineer customer device message reading schedule rotation "
    "claim receipt contract renewal window threshold command deploy rollback migrate "
    "restart scale drain promote measure check verify escalate book submit rotate"
)
_WORDS = _VOCABULARY.split()


def _document(number: int, rng: random.Random) -> str:
    topic = rng.choice(_TOPICS)
    lines = [f"# {topic.title()} handbook {number}", ""]
    for section in range(rng.randint(3, 6)):
        lines += [f"## {rng.choice(_TOPICS).title()} {section + 1}", ""]
        for _ in range(rng.randint(1, 3)):
            words = rng.choices(_WORDS, k=rng.randint(60, 140))
            words += [f"{topic}-{rng.randint(100, 999)}", f"{rng.randint(2, 90)} minutes"]
            rng.shuffle(words)
            lines += [" ".join(words).capitalize() + ".", ""]
    return "\n".join(lines)


def _write_corpus(folder: Path, documents: int, seed: int) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(documents):
        (folder / f"doc{number:05d}.md").write_text(_document(number, rng), encoding="utf-8")


def _disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _chunks(kb: KnowledgeBase) -> int:
    return int(kb.stats()["chunks"])


def scale(target: int, sample: int, queries: int) -> dict[str, Any]:
    width = len(embedder("llama").embed_query("width")) if sample else 1536
    written = (_load("rewrites") or {}).get("questions", {})
    asked = [t["task"] for split in SUITES for t in suite(split)]
    asked = (asked * (queries // len(asked) + 1))[:queries]
    out: dict[str, Any] = {"target_chunks": target, "vector_width": width}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        # chunks per document, from a small calibration corpus
        _write_corpus(root / "calibrate", 40, seed=1)
        kb = KnowledgeBase.open(root / "kb-calibrate", HashEmbeddings(width))
        kb.add([root / "calibrate"])
        per_document = _chunks(kb) / 40
        kb.close()
        documents = max(1, round(target / per_document))
        _write_corpus(root / "corpus", documents, seed=2)
        kb = KnowledgeBase.open(root / "kb", HashEmbeddings(width))
        started = time.perf_counter()
        report = kb.add([root / "corpus"])
        ingest_s = time.perf_counter() - started
        chunks = _chunks(kb)
        out.update(
            documents=len(report.added),
            chunks=chunks,
            ingest_s=round(ingest_s, 1),
            ingest_chunks_per_s=round(chunks / ingest_s, 1),
            disk_bytes=_disk_bytes(root / "kb"),
            disk_mib=round(_disk_bytes(root / "kb") / 2**20, 1),
        )
        print(
            f"{documents} documents, {chunks} chunks in {ingest_s:.1f} s "
            f"({out['ingest_chunks_per_s']} chunks/s), {out['disk_mib']} MiB",
            flush=True,
        )
        store: dict[str, Any] = {}
        for mode in MODES:
            times = []
            for question in asked:
                extra = written.get(question, [])[:3] if mode == "multi-query" else []
                began = time.perf_counter()
                kb.search(
                    question, k=5, mode="hybrid" if mode == "multi-query" else mode, rewrites=extra
                )
                times.append((time.perf_counter() - began) * 1000)
            store[mode] = percentiles(times)
            print(f"store {mode:11} {store[mode]}", flush=True)
        out["store_query_ms"] = store
        kb.close()
        if sample:
            out["llama"] = _llama_costs(root, sample, asked)
    if written:
        out["rewrite_call_ms"] = (_load("rewrites") or {}).get("call")
    return out


def _llama_costs(root: Path, sample: int, asked: Sequence[str]) -> dict[str, Any]:
    """The llama embedder's ingest rate on about ``sample`` chunks of the same corpus, and the
    cost of embedding one query."""
    model = embedder("llama")
    _write_corpus(root / "sample", 40, seed=1)
    kb = KnowledgeBase.open(root / "kb-sample", HashEmbeddings(8))
    kb.add([root / "sample"])
    per_document = _chunks(kb) / 40
    kb.close()
    documents = max(1, round(sample / per_document))
    _write_corpus(root / "sample-llama", documents, seed=3)
    kb = KnowledgeBase.open(root / "kb-llama", model)
    started = time.perf_counter()
    kb.add([root / "sample-llama"])
    ingest_s = time.perf_counter() - started
    chunks = _chunks(kb)
    kb.close()
    model.embed_query("warm up")
    times = []
    for question in list(asked)[:30]:
        began = time.perf_counter()
        model.embed_query(question)
        times.append((time.perf_counter() - began) * 1000)
    result = {
        "sample_chunks": chunks,
        "ingest_s": round(ingest_s, 1),
        "ingest_chunks_per_s": round(chunks / ingest_s, 2),
        "query_embedding_ms": percentiles(times),
    }
    print(f"llama embedder: {result}", flush=True)
    return result


# --- answers through the command line -------------------------------------------------------


def answers(patterns: Sequence[str], split: str) -> dict[str, Any]:
    agentlab = str(ROOT / ".venv" / "bin" / "agentlab")
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "AGENTLAB_HOME": home}
        subprocess.run(
            [agentlab, "knowledge", "add", str(HANDBOOK), "--collection", COLLECTION],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for pattern in patterns:
            started = time.perf_counter()
            done = subprocess.run(
                [
                    agentlab,
                    "eval",
                    str(SUITES[split]),
                    "--pattern",
                    pattern,
                    "--knowledge",
                    COLLECTION,
                    "--json",
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            wall = time.perf_counter() - started
            if not done.stdout.strip():
                print(done.stderr[-2000:], file=sys.stderr)
                raise SystemExit(f"eval of {pattern} printed nothing (exit {done.returncode})")
            result = json.loads(done.stdout)
            result["wall_s"] = round(wall, 1)
            out[pattern] = result
            _save("answers", {f"{split}:{pattern}": result})
            summary = {k: v for k, v in result.items() if not isinstance(v, list | dict)}
            print(f"{pattern}: {summary}", flush=True)
    return out


# --- the judge against hand labels ------------------------------------------------------------


def judge(threshold: float) -> dict[str, Any]:
    from agentlab.cli._faithfulness import judge_faithfulness, lexical_support
    from agentlab.llm import LlamaChatModel

    lines = LABELS.read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    model = LlamaChatModel.from_settings(load_settings())
    rows = []
    for item in items:
        started = time.perf_counter()
        verdict = judge_faithfulness(model, item["question"], item["answer"], item["passages"])
        seconds = time.perf_counter() - started
        lexical = lexical_support(item["answer"], item["passages"])
        rows.append(
            {
                "question": item["question"],
                "label": item["supported"],
                "judge": verdict.supported,
                "claim": verdict.unsupported_claim,
                "lexical": lexical,
                "judge_s": round(seconds, 1),
            }
        )
        print(
            f"label {item['supported']!s:5} judge {verdict.supported!s:5} "
            f"lexical {lexical}  {item['question']}",
            flush=True,
        )

    def agreement(said: Sequence[bool]) -> dict[str, Any]:
        pairs = list(zip([r["label"] for r in rows], said, strict=True))
        labelled = sum(label for label, _ in pairs)
        return {
            "agreement": round(sum(a == b for a, b in pairs) / len(pairs), 3),
            "supported_called_supported": f"{sum(a and b for a, b in pairs)}/{labelled}",
            "unsupported_caught": f"{sum(not (a or b) for a, b in pairs)}/{len(pairs) - labelled}",
        }

    lexical_said = [(r["lexical"] or 0.0) >= threshold for r in rows]
    return {
        "items": len(rows),
        "judge": agreement([r["judge"] for r in rows]),
        f"lexical>={threshold}": agreement(lexical_said),
        "judge_call_s_median": statistics.median(r["judge_s"] for r in rows),
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["rewrites", "retrieval", "scale", "answers", "judge"])
    parser.add_argument("--embedder", default="llama", choices=["llama", "hash"])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--embed-sample", type=int, default=200)
    parser.add_argument("--queries", type=int, default=48)
    parser.add_argument("--patterns", nargs="+", default=list(PATTERNS))
    parser.add_argument("--split", default="test", choices=sorted(SUITES))
    parser.add_argument("--threshold", type=float, default=1.0)
    args = parser.parse_args()
    if args.what == "rewrites":
        _save("rewrites", rewrites())
    elif args.what == "retrieval":
        _save("retrieval", {args.embedder: retrieval(args.embedder)})
    elif args.what == "scale":
        _save("scale", scale(args.chunks, args.embed_sample, args.queries))
    elif args.what == "answers":
        answers(args.patterns, args.split)  # saved pattern by pattern
    else:
        _save("judge", judge(args.threshold))
    print(f"written to {RESULTS.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
