"""The memory store behind LangGraph's BaseStore, as a graph's ``store``."""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from agentlab.memory import MemoryBaseStore, MemoryStore
from agentlab.testing import HashEmbeddings


def _store(path: Path) -> MemoryBaseStore:
    return MemoryBaseStore(MemoryStore(path, HashEmbeddings()))


def test_put_get_search_delete_like_in_memory_store(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.put(("users", "alice"), "tea", {"text": "Alice drinks green tea", "kind": "drink"})
    store.put(("users", "bob"), "tea", {"text": "Bob drinks black tea", "kind": "drink"})
    store.put(("users", "bob"), "desk", {"text": "Bob sits by the window", "kind": "place"})
    item = store.get(("users", "alice"), "tea")
    assert item is not None and item.value["kind"] == "drink"
    store.put(("users", "alice"), "tea", {"text": "Alice now drinks mint tea", "kind": "drink"})
    updated = store.get(("users", "alice"), "tea")
    assert updated is not None and "mint" in updated.value["text"]
    assert updated.created_at == item.created_at and updated.updated_at >= item.updated_at
    found = store.search(("users",), query="who drinks mint tea", limit=2)
    assert found[0].key == "tea" and found[0].namespace == ("users", "alice")
    assert found[0].score is not None
    assert [i.key for i in store.search(("users", "bob"), filter={"kind": "place"})] == ["desk"]
    assert store.list_namespaces(prefix=("users",)) == [("users", "alice"), ("users", "bob")]
    assert store.list_namespaces(max_depth=1) == [("users",)]
    store.delete(("users", "bob"), "desk")
    assert store.get(("users", "bob"), "desk") is None


def test_a_graph_reads_and_writes_through_its_store(tmp_path: Path) -> None:
    class State(TypedDict):
        question: str
        answer: str

    def remember_and_recall(state: State, runtime: Runtime[None]) -> dict[str, str]:
        assert runtime.store is not None
        runtime.store.put(("team",), "db", {"text": "the staging database is db-7"})
        hits = runtime.store.search(("team",), query=state["question"], limit=1)
        return {"answer": hits[0].value["text"]}

    graph = StateGraph(State)
    graph.add_node("node", remember_and_recall)
    graph.add_edge(START, "node")
    graph.add_edge("node", END)
    compiled = graph.compile(store=_store(tmp_path))
    result = compiled.invoke({"question": "which staging database?", "answer": ""})
    assert result["answer"] == "the staging database is db-7"
    # persistent: a new store object on the same folder sees it
    assert _store(tmp_path).get(("team",), "db") is not None
