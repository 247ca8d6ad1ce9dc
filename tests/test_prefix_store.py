"""The prompt head's KV state on disk: file handling, and reuse by a new engine (real model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from agentlab.config import Settings
from agentlab.llm._prefix_store import PrefixStore


def test_a_saved_prefix_loads_back(tmp_path: Path) -> None:
    store = PrefixStore(tmp_path, {"model": "m", "n_ctx": 512})
    store.save([1, 2, 3], b"\x00state\xff")
    loaded = store.load()
    assert loaded is not None and loaded.tokens == [1, 2, 3] and loaded.state == b"\x00state\xff"
    assert [p.name for p in tmp_path.iterdir()] == [store.path.name]  # no temporary file left


def test_each_configuration_has_its_own_file(tmp_path: Path) -> None:
    one = PrefixStore(tmp_path, {"model": "m", "n_ctx": 512})
    other = PrefixStore(tmp_path, {"model": "m", "n_ctx": 1024})
    assert one.path != other.path


def test_a_damaged_file_is_ignored_and_removed(tmp_path: Path) -> None:
    store = PrefixStore(tmp_path, {"model": "m"})
    store.path.write_bytes(b"garbage")
    assert store.load() is None and not store.path.exists()
    store.path.write_bytes(b"AGLKV1\n\xff")  # the header cut short
    assert store.load() is None


@pytest.mark.llm
def test_a_new_engine_reuses_the_head_and_answers_the_same(
    model_path: Path, tmp_path: Path
) -> None:
    from agentlab.llm import LlamaChatModel
    from agentlab.tools.demo import TOOLS

    settings = Settings(model=str(model_path), home=tmp_path, n_ctx=2048)
    messages = [HumanMessage("What is 17 times 23?")]
    first = LlamaChatModel.from_settings(settings).bind_tools(TOOLS).invoke(messages)
    assert first.usage_metadata is not None
    assert first.usage_metadata["input_token_details"]["cache_read"] == 0
    assert list((tmp_path / "kv").glob("*.kv")), "the head was not saved"

    second = LlamaChatModel.from_settings(settings).bind_tools(TOOLS).invoke(messages)
    assert second.usage_metadata is not None
    prompt = second.usage_metadata["input_tokens"]
    assert second.usage_metadata["input_token_details"]["cache_read"] == prompt - 1
    assert second.additional_kwargs["raw"] == first.additional_kwargs["raw"]

    off = Settings(model=str(model_path), home=tmp_path, n_ctx=2048, kv_disk_cache=False)
    third = LlamaChatModel.from_settings(off).bind_tools(TOOLS).invoke(messages)
    assert third.usage_metadata is not None
    assert third.usage_metadata["input_token_details"]["cache_read"] == 0
