"""Knowledge under stress: a process killed mid-ingest leaves whole documents only, a large
file is ingested in bounded memory, and a ``chroma run`` server works like the embedded store."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from agentlab.memory import KnowledgeBase, MemoryFilter, MemoryStore
from agentlab.memory._catalog import Catalog
from agentlab.memory._chunking import ChunkSizes
from agentlab.testing import HashEmbeddings

CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from agentlab.memory import KnowledgeBase
    from agentlab.testing import HashEmbeddings

    class Announcing(HashEmbeddings):
        def embed_documents(self, texts):
            print("batch", flush=True)
            time.sleep(0.05)  # the parent's kill lands while this process works
            return super().embed_documents(texts)

    kb = KnowledgeBase.open(Path(sys.argv[1]), Announcing(), batch=8)
    kb.add([Path(sys.argv[2])])
    print("finished", flush=True)
    """
)


def handbook(folder: Path, documents: int = 4) -> Path:
    folder.mkdir()
    for n in range(documents):
        body = "\n\n".join(
            f"## Part {p}\n\n" + f"Document {n} part {p} says lorem ipsum dolor. " * 30
            for p in range(6)
        )
        (folder / f"doc{n}.md").write_text(f"# Doc {n}\n\n{body}\n")
    return folder


def test_a_process_killed_mid_ingest_leaves_whole_documents(tmp_path: Path) -> None:
    folder = handbook(tmp_path / "docs")
    path = tmp_path / "knowledge"
    counting = HashEmbeddings()
    per_document = KnowledgeBase.open(tmp_path / "count", counting, batch=8)
    per_document.add([folder / "doc0.md"])
    batches = -(-per_document.documents()[0].chunks // 8)
    per_document.close()
    assert batches >= 3

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(folder)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert child.stdout is not None
    seen = 0
    for line in child.stdout:
        seen += line.startswith("batch")
        if seen == batches + 3:  # the second document's third batch: two are written
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    # as the kill left it: more chunks in the store than whole documents account for
    store = MemoryStore(path, HashEmbeddings(), index="knowledge", check_embedder=False)
    catalog = Catalog(path / "documents.sqlite")
    whole = sum(d.chunks for d in catalog.documents())
    assert store.count(MemoryFilter(kind="chunk")) > whole
    store.close()
    catalog.close()

    kb = KnowledgeBase.open(path, HashEmbeddings())
    documents = kb.documents()
    assert [d.source for d in documents] == ["doc0.md"]
    for document in documents:
        scope = MemoryFilter(kind="chunk", where={"doc": document.id})
        assert kb.store.count(scope) == document.chunks
    assert kb.store.count(MemoryFilter(kind="chunk")) == sum(d.chunks for d in documents)
    assert kb.stats()["sections"] == sum(d.sections for d in documents)

    report = kb.add([folder])
    assert report.unchanged == ["doc0.md"]
    assert report.added == ["doc1.md", "doc2.md", "doc3.md"]
    assert kb.store.count(MemoryFilter(kind="chunk")) == sum(d.chunks for d in kb.documents())
    assert kb.search("document 2 part 3", k=1)[0].source == "doc2.md"
    kb.close()


def write_text_file(path: Path, size: int) -> None:
    rng = random.Random(7)
    words = [f"term{i}" for i in range(20_000)]
    written = 0
    with path.open("w") as out:
        while written < size:
            paragraph = " ".join(rng.choices(words, k=150)) + ".\n\n"
            out.write(paragraph)
            written += len(paragraph)


def peak_while_adding(kb: KnowledgeBase, path: Path) -> int:
    kb.store.dense.collection  # noqa: B018  (Chroma's import and client: not the file's cost)
    tracemalloc.start()
    try:
        report = kb.add([path])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert report.added == [path.name]
    return peak


def test_memory_while_adding_does_not_grow_with_the_file(tmp_path: Path) -> None:
    peaks = []
    for size in (500_000, 2_000_000):
        path = tmp_path / f"text{size}.txt"
        write_text_file(path, size)
        kb = KnowledgeBase.open(tmp_path / f"knowledge{size}", HashEmbeddings(), chunking="fixed",
                                sizes=ChunkSizes(chunk=900, overlap=32), batch=64)  # fmt: skip
        peaks.append(peak_while_adding(kb, path))
        kb.close()
    assert peaks[1] < 1.25 * peaks[0], f"peaks {peaks} bytes for 0.5 and 2 MB"
    assert peaks[1] < 4_000_000  # a read block, a batch, and the store's own working set


@pytest.mark.slow
def test_a_50_mb_text_file_is_ingested_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    write_text_file(path, 50_000_000)
    kb = KnowledgeBase.open(tmp_path / "knowledge", HashEmbeddings(), chunking="fixed",
                            sizes=ChunkSizes(chunk=900, overlap=32))  # fmt: skip
    peak = peak_while_adding(kb, path)
    assert peak < 50_000_000 / 8, f"peak {peak:,} bytes for a 50 MB file"
    assert kb.stats()["chunks"] > 10_000
    assert kb.search("term123 term4567", k=1)[0].source == "big.txt"
    kb.close()


def test_a_chroma_server_holds_the_vectors_apart_from_memories(
    tmp_path: Path, chroma_server: str
) -> None:
    folder = handbook(tmp_path / "docs", documents=2)
    memories = MemoryStore(tmp_path / "memory", HashEmbeddings(), chroma_url=chroma_server)
    memories.add("Document 1 part 2 is also a memory", namespace="default")
    kb = KnowledgeBase.open(tmp_path / "knowledge", HashEmbeddings(), chroma_url=chroma_server)
    kb.add([folder])
    assert kb.stats()["vector_store"] == chroma_server
    for mode in ("dense", "hybrid"):
        best = kb.search("document 1 part 2", k=2, mode=mode)  # type: ignore[arg-type]
        assert best[0].source == "doc1.md" and best[0].heading == "Doc 1 > Part 2"
    assert kb.store.dense.name != memories.dense.name
    assert len(kb.store.dense.ids()) == kb.stats()["chunks"]
    kb.remove("doc1.md")
    assert len(kb.store.dense.ids()) == kb.stats()["chunks"]
    assert memories.search("document part memory", k=1, mode="dense")
    kb.close()
    memories.close()
