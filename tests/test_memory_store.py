"""The memory store on real SQLite and real Chroma, embedded and as a ``chroma run`` server.

Every conformance test runs over each store configuration. Embeddings are feature-hashed
(agentlab.testing.HashEmbeddings): these tests are about storage, filters and fusion, not
about embedding quality (see tests/test_memory_llm.py and bench/memory_bench.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentlab.errors import StoreError, UsageError
from agentlab.memory import MAX_MEMORY_CHARS, MemoryFilter, MemoryStore
from agentlab.testing import FakeClock, HashEmbeddings


@pytest.fixture(params=["embedded", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MemoryStore]:
    url = request.getfixturevalue("chroma_server") if request.param == "server" else None
    # each test gets its own collection on the shared server: a fresh embedder name
    embedder = f"hash-{tmp_path.name}"
    opened = MemoryStore(tmp_path / "memory", HashEmbeddings(), embedder=embedder,
                         chroma_url=url, clock=FakeClock())  # fmt: skip
    yield opened
    opened.close()


def _ids(hits: list[object]) -> list[str]:
    return [h.memory.id for h in hits]  # type: ignore[attr-defined]


# -- conformance: every configuration -----------------------------------------------------------


def test_write_get_and_search_in_every_mode(store: MemoryStore) -> None:
    store.add("Priya owns the staging database db-7", id="db", kind="fact")
    store.add("Lunch on Fridays is pizza from Luigi's", id="lunch")
    store.add("The release train leaves every second Tuesday", id="release")
    assert store.get("db") is not None and store.get("db").kind == "fact"  # type: ignore[union-attr]
    assert store.get("missing") is None
    for mode in ("dense", "sparse", "hybrid"):
        hits = store.search("who owns the staging database?", k=2, mode=mode)  # type: ignore[arg-type]
        assert _ids(hits)[0] == "db", mode
    hybrid = store.search("staging database", k=3)
    assert hybrid[0].dense_rank == 1 and hybrid[0].sparse_rank == 1
    assert hybrid[0].score > hybrid[-1].score


def test_filters_by_namespace_kind_time_and_metadata(store: MemoryStore) -> None:
    clock = store.clock
    assert isinstance(clock, FakeClock)
    store.add("alice likes green tea", namespace="users/alice", kind="preference", id="a1",
              metadata={"source": "chat"})  # fmt: skip
    clock.advance(100)
    store.add("bob likes black tea", namespace="users/bob", kind="preference", id="b1",
              metadata={"source": "email"})  # fmt: skip
    store.add("team tea budget is 20 euros", namespace="team", kind="fact", id="t1")
    for mode in ("dense", "sparse", "hybrid"):

        def found(scope: MemoryFilter, mode: str = mode) -> set[str]:
            return set(_ids(store.search("tea", k=5, mode=mode, scope=scope)))  # type: ignore[arg-type]

        assert found(MemoryFilter("users/alice")) == {"a1"}
        assert found(MemoryFilter("users", prefix=True)) == {"a1", "b1"}
        assert found(MemoryFilter(kind="fact")) == {"t1"}
        assert found(MemoryFilter(since=clock.now - 50)) == {"b1", "t1"}
        assert found(MemoryFilter(until=clock.now - 50)) == {"a1"}
        assert found(MemoryFilter(where={"source": "email"})) == {"b1"}
    assert [m.id for m in store.list(MemoryFilter("users", prefix=True))] == ["b1", "a1"]
    assert store.count(MemoryFilter(kind="preference")) == 2
    assert store.namespaces() == ["team", "users/alice", "users/bob"]


def test_prefix_filter_does_not_match_lookalike_namespaces(store: MemoryStore) -> None:
    store.add("note in users", namespace="users", id="u")
    store.add("note in users_x", namespace="users_x", id="x")
    store.add("note in users/a", namespace="users/a", id="a")
    assert {m.id for m in store.list(MemoryFilter("users", prefix=True))} == {"u", "a"}


def test_forget_removes_from_both_indexes(store: MemoryStore) -> None:
    store.add("the vpn gateway is vpn-2", id="vpn")
    store.add("the wiki lives at wiki.example", id="wiki")
    assert store.forget(["vpn", "nope"]) == 1
    for mode in ("dense", "sparse", "hybrid"):
        assert "vpn" not in _ids(store.search("vpn gateway", k=5, mode=mode))  # type: ignore[arg-type]
    assert store.forget_where(MemoryFilter(kind="note")) == 1
    assert store.count() == 0


def test_same_id_replaces_the_memory(store: MemoryStore) -> None:
    store.add("the on-call phone is with Omar", id="oncall")
    store.add("the on-call phone is with Dana", id="oncall")
    assert store.count() == 1
    assert "Dana" in store.search("on-call phone", k=1)[0].memory.text


def test_touch_reinforces(store: MemoryStore) -> None:
    store.add("the build cache is on nas-3", id="cache")
    clock = store.clock
    assert isinstance(clock, FakeClock)
    clock.advance(1000)
    store.touch(["cache"])
    memory = store.get("cache")
    assert memory is not None
    assert memory.access_count == 1 and memory.last_accessed == clock.now


# -- bad input ------------------------------------------------------------------------------------


def test_bad_input_gets_clear_errors(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path, HashEmbeddings())
    with pytest.raises(UsageError, match="empty"):
        store.add("   ")
    with pytest.raises(UsageError, match="importance"):
        store.add("x", importance=2.0)
    with pytest.raises(UsageError, match="mode"):
        store.search("x", mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="identifiers"):
        store.search("x", scope=MemoryFilter(where={"a') OR 1=1 --": 1}))
    with pytest.raises(TypeError):
        store.add("x", metadata={"when": object()})
    assert store.count() == 0  # nothing half-written


def test_huge_text_is_cut_with_a_note_and_bytes_are_decoded(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path, HashEmbeddings())
    big = store.add("word " * 5000)
    assert len(big.text) < MAX_MEMORY_CHARS + 100
    assert big.text.endswith("more characters not stored]")
    raw = store.add(b"caf\xe9 is open \xff until nine")
    assert raw.text == "caf\ufffd is open \ufffd until nine"
    assert _ids(store.search("open until nine", k=1)) == [raw.id]


# -- faults ---------------------------------------------------------------------------------------


def test_a_corrupt_database_is_reported_and_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "memory"
    folder.mkdir()
    damaged = b"this is not a sqlite file" * 100
    (folder / "memory.sqlite").write_bytes(damaged)
    (tmp_path / "checkpoints.sqlite").write_bytes(b"other data")
    with pytest.raises(StoreError, match=r"cannot be used.*move it away"):
        MemoryStore(folder, HashEmbeddings())
    assert (folder / "memory.sqlite").read_bytes() == damaged
    assert (tmp_path / "checkpoints.sqlite").read_bytes() == b"other data"


def test_a_locked_database_is_reported(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path, HashEmbeddings(), busy_timeout_s=0.2)
    store.add("first", id="one")
    import sqlite3

    holder = sqlite3.connect(tmp_path / "memory.sqlite")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="locked by another process"):
            store.add("second")
    finally:
        holder.rollback()
        holder.close()
    assert store.get("one") is not None
    store.add("third", id="three")  # usable again once the lock is gone
    assert store.count() == 2


def test_a_damaged_vector_store_is_rebuilt_from_sqlite(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path, HashEmbeddings())
    store.add("the printer on floor 3 needs toner", id="printer")
    store.close()
    for path in (tmp_path / "chroma").rglob("*"):
        if path.is_file():
            path.write_bytes(b"\x00garbage")
    try:
        broken = MemoryStore(tmp_path, HashEmbeddings())
        broken.search("printer toner", mode="dense")
        pytest.fail("a damaged Chroma store went unnoticed")
    except StoreError as exc:
        assert "agentlab memory reindex" in str(exc)
    (tmp_path / "chroma").rename(tmp_path / "chroma.damaged")
    fresh = MemoryStore(tmp_path, HashEmbeddings())
    assert fresh.reindex() == 1
    assert _ids(fresh.search("printer toner", mode="dense")) == ["printer"]


def test_switching_embedders_asks_for_reindex(tmp_path: Path) -> None:
    MemoryStore(tmp_path, HashEmbeddings(), embedder="hash-a").add("the gate code is 4411")
    with pytest.raises(StoreError, match="reindex"):
        MemoryStore(tmp_path, HashEmbeddings(), embedder="hash-b")
    switching = MemoryStore(tmp_path, HashEmbeddings(32), embedder="hash-b", check_embedder=False)
    assert switching.reindex(reembed=True) == 1
    switching.close()
    reopened = MemoryStore(tmp_path, HashEmbeddings(32), embedder="hash-b")
    assert "4411" in reopened.search("gate code", mode="dense")[0].memory.text


WRITER = """
import sys
from pathlib import Path
from agentlab.memory import MemoryStore
from agentlab.testing import HashEmbeddings
store = MemoryStore(Path(sys.argv[1]), HashEmbeddings())
for i in range(int(sys.argv[3])):
    store.add(f"memory {i} written by {sys.argv[2]}", id=f"{sys.argv[2]}-{i}")
    print(f"{sys.argv[2]}-{i}", flush=True)
"""


def _writer(folder: Path, name: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(folder), name, str(count)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    MemoryStore(tmp_path, HashEmbeddings()).close()
    writers = [_writer(tmp_path, name, 60) for name in ("left", "right")]
    acknowledged = [line.strip() for w in writers for line in w.communicate(timeout=300)[0].split()]
    assert all(w.returncode == 0 for w in writers)
    assert len(acknowledged) == 120
    store = MemoryStore(tmp_path, HashEmbeddings())
    assert {m.id for m in store.list(limit=None)} == set(acknowledged)
    assert store.dense.ids() == set(acknowledged)
    assert store.stats()["unindexed"] == 0


def test_a_reader_sees_another_process_writes(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path, HashEmbeddings())
    store.add("before the other process", id="mine")
    assert store.search("before", mode="dense")
    other = _writer(tmp_path, "other", 3)
    other.communicate(timeout=120)
    dense = _ids(store.search("memory written by other", k=5, mode="dense"))
    assert {"other-0", "other-1", "other-2"} <= set(dense)


def test_a_process_killed_while_writing_keeps_acknowledged_writes(tmp_path: Path) -> None:
    writer = _writer(tmp_path, "killed", 10_000)
    acknowledged = []
    assert writer.stdout is not None
    for line in writer.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) == 25:
            os.kill(writer.pid, 9)
            break
    writer.wait(timeout=30)
    store = MemoryStore(tmp_path, HashEmbeddings())  # reopens; indexes what was cut off
    stored = {m.id for m in store.list(limit=None)}
    assert set(acknowledged) <= stored
    assert store.dense.ids() == stored
    assert store.stats()["unindexed"] == 0
