"""KnowledgeBase on real SQLite and Chroma: adding folders, content hashing and replacement,
removal, search with its filters and rewrites, and the errors a user sees.

Embeddings are feature-hashed (agentlab.testing.HashEmbeddings): these tests are about
ingestion, storage and fusion, not embedding quality (bench/knowledge_bench.py measures that).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage

from agentlab.errors import StoreError, UsageError
from agentlab.memory import KnowledgeBase, MemoryFilter, SearchQueries, rewrite_query
from agentlab.memory._chunking import ChunkSizes
from agentlab.testing import HashEmbeddings, ScriptedChatModel

OFFICES = """# Offices

We have offices in three cities. Visitors sign in at reception.

## Oslo

The Oslo office is at Storgata 5. Badge access starts at 07:00. There is no parking.

## Lisbon

The Lisbon office is at Rua Augusta 10. The office manager is Marta Silva.
"""
LEAVE = (
    "<html><body><h1>Leave</h1><p>Annual leave is 25 days a year.</p>"
    "<h2>Sick leave</h2><p>Call your manager before 9am on the first day.</p></body></html>"
)
EXPENSES = (
    "Expense reports are due on the fifth of each month.\n\nReceipts over 50 EUR need a scan."
)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    (folder / "policies").mkdir(parents=True)
    (folder / "offices.md").write_text(OFFICES)
    (folder / "policies" / "leave.html").write_text(LEAVE)
    (folder / "expenses.txt").write_text(EXPENSES)
    (folder / "logo.png").write_bytes(b"\x89PNG\r\n")
    (folder / "empty.md").write_text("")
    (folder / ".hidden.md").write_text("# Hidden\n\nnot to be added")
    return folder


@pytest.fixture
def kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    opened = KnowledgeBase.open(tmp_path / "knowledge", HashEmbeddings())
    yield opened
    opened.close()


def chunks_in_store(kb: KnowledgeBase, collection: str | None = None) -> int:
    return kb.store.count(MemoryFilter(namespace=collection, kind="chunk"))


def test_adding_a_folder_reports_each_file(kb: KnowledgeBase, docs: Path) -> None:
    progress: list[tuple[str, int, int]] = []
    report = kb.add([docs], on_progress=lambda *step: progress.append(step))
    assert report.added == ["expenses.txt", "offices.md", "policies/leave.html"]
    assert report.skipped == [("empty.md", "empty"), ("logo.png", "unsupported type")]
    assert report.replaced == report.unchanged == report.warnings == []
    assert [step[1:] for step in progress] == [(i, 5) for i in range(1, 6)]
    infos = {d.source: d for d in kb.documents()}
    assert set(infos) == {"expenses.txt", "offices.md", "policies/leave.html"}
    offices = infos["offices.md"]
    assert offices.collection == "default" and offices.bytes == len(OFFICES.encode())
    assert offices.chunks == 3 and len(offices.sha256) == 64 and offices.added > 0
    stats = kb.stats()
    assert stats["collections"] == 1 and stats["documents"] == 3
    assert stats["chunks"] == sum(d.chunks for d in infos.values()) == chunks_in_store(kb)
    assert stats["sections"] >= 3 and stats["bytes"] > 0
    assert kb.collections() == ["default"]


def test_a_single_file_is_named_by_its_file_name(kb: KnowledgeBase, docs: Path) -> None:
    assert kb.add([docs / "policies" / "leave.html"]).added == ["leave.html"]


def test_the_same_bytes_again_change_nothing_and_changed_bytes_replace(
    kb: KnowledgeBase, docs: Path
) -> None:
    kb.add([docs])
    before = {d.source: d for d in kb.documents()}
    again = kb.add([docs])
    assert again.unchanged == ["expenses.txt", "offices.md", "policies/leave.html"]
    assert again.added == again.replaced == []
    assert {d.source: d for d in kb.documents()} == before

    (docs / "offices.md").write_text(OFFICES.replace("Storgata 5", "Karl Johans gate 1"))
    changed = kb.add([docs])
    assert changed.replaced == ["offices.md"]
    assert changed.unchanged == ["expenses.txt", "policies/leave.html"]
    after = {d.source: d for d in kb.documents()}
    assert after["offices.md"].sha256 != before["offices.md"].sha256
    assert chunks_in_store(kb) == sum(d.chunks for d in after.values())
    texts = " ".join(p.text for p in kb.search("Oslo office address", k=4))
    assert "Karl Johans gate 1" in texts and "Storgata" not in texts


def test_another_chunking_of_the_same_file_replaces_it(tmp_path: Path, docs: Path) -> None:
    path = tmp_path / "knowledge"
    with_headings = KnowledgeBase.open(path, HashEmbeddings(), chunking="headings")
    with_headings.add([docs / "offices.md"])
    with_headings.close()
    fixed = KnowledgeBase.open(path, HashEmbeddings(), chunking="fixed")
    assert fixed.add([docs / "offices.md"]).replaced == ["offices.md"]
    assert fixed.documents()[0].chunking == "fixed"
    fixed.close()


def test_search_cites_the_section_and_reads_the_parent(kb: KnowledgeBase, docs: Path) -> None:
    kb.add([docs])
    best = kb.search("Who is the office manager in Lisbon?", k=2)[0]
    assert best.source == "offices.md" and best.heading == "Offices > Lisbon"
    assert best.cite == "[offices.md#Offices > Lisbon]"
    assert "Marta Silva" in best.text and best.matched and best.score > 0
    plain = kb.search("expense reports receipts", k=1)[0]
    assert plain.cite == "[expenses.txt]" and plain.heading == ""


def test_parent_child_matches_small_chunks_and_returns_their_section(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    sentences = [f"Rule {i}: item {i} weighs {i} kilograms." for i in range(40)]
    (folder / "rules.md").write_text("# Rules\n\n" + " ".join(sentences) + "\n")
    sizes = ChunkSizes(child=16, child_overlap=2, parent=200)
    kb = KnowledgeBase.open(tmp_path / "knowledge", HashEmbeddings(), sizes=sizes)
    kb.add([folder])
    (passage,) = kb.search("item 17", k=1)
    assert "item 17 weighs" in passage.chunk
    assert len(passage.chunk) <= 16 * 4 < len(passage.text) <= 200 * 4
    assert passage.chunk in passage.text
    # several children of one section come back as that section once
    passages = kb.search("rule item weighs kilograms", k=4)
    assert len({p.text for p in passages}) == len(passages)
    kb.close()


def test_a_passage_is_bounded_by_the_given_token_counter(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "long.md").write_text("# Long\n\n" + " ".join(f"w{i}" for i in range(400)))
    kb = KnowledgeBase.open(
        tmp_path / "knowledge", HashEmbeddings(), count=lambda text: len(text.split())
    )
    kb.add([folder])
    (passage,) = kb.search("w200", k=1)
    assert len(passage.text.split()) <= 512 and passage.chunk in passage.text
    kb.close()
    small = KnowledgeBase.open(
        tmp_path / "knowledge", HashEmbeddings(), count=lambda text: len(text.split()) * 8
    )
    (passage,) = small.search("w200", k=1)
    assert len(passage.text.split()) * 8 <= 512
    small.close()


@pytest.mark.parametrize("chunking", ["fixed", "headings"])
def test_without_parents_the_model_reads_the_chunk(
    tmp_path: Path, docs: Path, chunking: str
) -> None:
    kb = KnowledgeBase.open(tmp_path / "knowledge", HashEmbeddings(), chunking=chunking)  # type: ignore[arg-type]
    kb.add([docs])
    passages = kb.search("Lisbon office manager", k=2)
    assert all(p.text == p.chunk for p in passages)
    assert any("Marta Silva" in p.text for p in passages)
    headings = {p.heading for p in passages}
    assert headings == {""} if chunking == "fixed" else "Offices > Lisbon" in headings
    kb.close()


def test_matched_says_whether_the_keyword_index_agrees(kb: KnowledgeBase, docs: Path) -> None:
    kb.add([docs])
    for mode in ("hybrid", "dense"):
        found = kb.search("zebra xylophone quartz", k=3, mode=mode)  # type: ignore[arg-type]
        assert found and not any(p.matched for p in found)
        assert kb.search("parking in Oslo", k=1, mode=mode)[0].matched  # type: ignore[arg-type]


def test_unmentioned_names_the_words_no_document_of_the_collection_contains(
    kb: KnowledgeBase, docs: Path
) -> None:
    kb.add([docs], "hb")
    kb.add([docs / "expenses.txt"], "other")
    # stemmed as the keyword index stems them; function words never count
    assert kb.unmentioned("What is the address of the Berlin offices?", "hb") == [
        "address",
        "berlin",
    ]
    assert kb.unmentioned("Where is the Lisbon office?", "hb") == []
    assert kb.unmentioned("Where is the Lisbon office?", "other") == ["lisbon", "office"]


def test_filters_by_source_and_heading(kb: KnowledgeBase, docs: Path) -> None:
    kb.add([docs])
    by_source = kb.search("office", k=10, source="offices.md")
    assert by_source and {p.source for p in by_source} == {"offices.md"}
    by_heading = kb.search("office", k=10, heading="Offices > Oslo")
    assert [p.heading for p in by_heading] == ["Offices > Oslo"]
    leave = kb.search("leave manager", k=10, heading="leave")  # case does not matter
    assert {p.heading for p in leave} == {"Leave", "Leave > Sick leave"}
    with pytest.raises(UsageError, match=r"no document 'nope.md' in the knowledge collection"):
        kb.search("office", source="nope.md")


def test_collections_are_separate(kb: KnowledgeBase, docs: Path) -> None:
    kb.add([docs / "offices.md"], collection="team-a")
    kb.add([docs / "expenses.txt"], collection="team-b")
    assert kb.collections() == ["team-a", "team-b"]
    assert {p.source for p in kb.search("office expense", collection="team-b", k=5)} == {
        "expenses.txt"
    }
    assert [d.source for d in kb.documents("team-a")] == ["offices.md"]
    assert kb.stats()["by_collection"] == {
        "team-a": {"documents": 1, "chunks": 3},
        "team-b": {"documents": 1, "chunks": 1},
    }


def test_an_unknown_or_empty_collection_is_a_usage_error(kb: KnowledgeBase, docs: Path) -> None:
    with pytest.raises(UsageError) as empty:
        kb.search("anything", collection="handbook")
    assert "'handbook'" in str(empty.value)
    assert "agentlab knowledge add PATH --collection handbook" in str(empty.value)
    kb.add([docs / "offices.md"])
    with pytest.raises(UsageError, match=r"'handbook' has no documents \(collections: default\)"):
        kb.search("anything", collection="handbook")
    with pytest.raises(UsageError, match="collection name"):
        kb.add([docs], collection="no spaces/please")


def test_remove(kb: KnowledgeBase, docs: Path) -> None:
    kb.add([docs])
    assert kb.remove("offices.md") == 3
    assert [d.source for d in kb.documents()] == ["expenses.txt", "policies/leave.html"]
    assert chunks_in_store(kb) == sum(d.chunks for d in kb.documents())
    assert all(p.source != "offices.md" for p in kb.search("Lisbon office", k=5))
    with pytest.raises(UsageError, match=r"no document 'offices\.md'"):
        kb.remove("offices.md")
    kb.remove("expenses.txt")
    kb.remove("policies/leave.html")
    assert kb.collections() == [] and chunks_in_store(kb) == 0
    assert kb.stats()["sections"] == 0


def test_rewrites_are_searched_and_fused(kb: KnowledgeBase, docs: Path) -> None:
    kb.add([docs])
    alone = kb.search("time off", k=1, mode="sparse", rewrites=())
    assert not alone or alone[0].source != "policies/leave.html"
    fused = kb.search("time off", k=2, mode="sparse", rewrites=["annual leave days"])
    assert fused[0].source == "policies/leave.html" and fused[0].matched
    assert fused[0].score == pytest.approx(1 / 61)  # first in one of the two rankings


def test_rewrite_query_asks_the_model_under_a_schema() -> None:
    call = {
        "name": "SearchQueries",
        "args": {"queries": ["annual leave days", "Time off?", "holiday allowance", "vacation"]},
        "id": "call_1",
    }
    model = ScriptedChatModel(turns=[AIMessage("", tool_calls=[call])])
    assert rewrite_query(model, "time off?", n=2) == ["annual leave days", "holiday allowance"]
    assert model.bound_tools == ["SearchQueries"]
    assert "time off?" in model.seen[0][-1].text
    assert SearchQueries.model_json_schema()["properties"]["queries"]["maxItems"] == 5


def test_rewrite_query_without_a_usable_answer_gives_none() -> None:
    model = ScriptedChatModel(turns=[AIMessage("I think you mean leave.")])
    assert rewrite_query(model, "time off?") == []


def test_unreadable_files_are_skipped_and_the_rest_added(
    kb: KnowledgeBase, docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (docs / "gone.md").symlink_to(docs / "missing.md")
    locked = docs / "locked.md"
    locked.write_text("# Locked\n\nsecret")
    real_open = Path.open

    def open_refusing(self: Path, *args: object, **kwargs: object) -> object:
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", open_refusing)
    report = kb.add([docs, docs / "nowhere.txt"])
    assert ("gone.md", "unreadable: No such file or directory") in report.skipped
    assert ("locked.md", "unreadable: Permission denied") in report.skipped
    assert (str(docs / "nowhere.txt"), "unreadable: no such file or folder") in report.skipped
    assert report.added == ["expenses.txt", "offices.md", "policies/leave.html"]


def test_non_utf8_text_is_added_with_a_warning(kb: KnowledgeBase, tmp_path: Path) -> None:
    path = tmp_path / "menu.txt"
    path.write_bytes("Caf\xe9 au lait is served at ten.".encode("latin-1"))
    report = kb.add([path])
    assert report.added == ["menu.txt"]
    assert report.warnings == ["menu.txt: not UTF-8, decoded with replacement characters"]


def test_another_embedder_is_refused(tmp_path: Path, docs: Path) -> None:
    kb = KnowledgeBase.open(tmp_path / "knowledge", HashEmbeddings())
    kb.add([docs / "offices.md"])
    kb.close()

    class Other(HashEmbeddings):
        name = "other"

    with pytest.raises(StoreError, match="embedded with 'hash', not 'other'"):
        KnowledgeBase.open(tmp_path / "knowledge", Other())


class Interrupting(HashEmbeddings):
    """Embeds normally, then raises KeyboardInterrupt (Ctrl-C) on the given call."""

    def __init__(self, on_call: int) -> None:
        super().__init__()
        self.calls = 0
        self.on_call = on_call

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        if self.calls == self.on_call:
            raise KeyboardInterrupt
        return super().embed_documents(texts)


def test_ctrl_c_during_an_add_keeps_whole_documents_only(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in "abc":
        (folder / f"{name}.md").write_text(f"# {name}\n\n" + "lorem ipsum dolor sit amet " * 400)
    counting = Interrupting(on_call=0)
    KnowledgeBase.open(tmp_path / "count", counting, batch=8).add([folder / "a.md"])
    assert counting.calls >= 3  # batches per document: the interruption falls inside one
    kb = KnowledgeBase.open(tmp_path / "knowledge", Interrupting(counting.calls + 2), batch=8)
    with pytest.raises(KeyboardInterrupt):
        kb.add([folder])
    documents = kb.documents()
    assert [d.source for d in documents] == ["a.md"]
    assert chunks_in_store(kb) == sum(d.chunks for d in documents)
    report = kb.add([folder])
    assert report.added and report.unchanged == [d.source for d in documents]
    assert chunks_in_store(kb) == sum(d.chunks for d in kb.documents())
    kb.close()
