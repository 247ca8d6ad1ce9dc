"""Reading the weights while the command imports: used only by a request for the same weights."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from agentlab.cli import _start_loading_model
from agentlab.config import Settings
from agentlab.errors import ModelFileError
from agentlab.gguf_info import read_model_info
from agentlab.llm import _native, _preload
from agentlab.llm._engine import LlamaEngine
from agentlab.llm._native import Weights, load_llama, read_weights


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """Every read of weights, as (thread name, extra buffers)."""
    seen: list[tuple[str, bool]] = []

    def counted(path: Path, *, extra_buffers: bool, **params: Any) -> Weights:
        seen.append((threading.current_thread().name, extra_buffers))
        return read_weights(path, extra_buffers=extra_buffers, **params)

    monkeypatch.setattr(_preload, "read_weights", counted)
    monkeypatch.setattr(_native, "read_weights", counted)
    return seen


@pytest.mark.llm
def test_the_engine_uses_weights_read_for_its_settings(
    model_path: Path, reads: list[tuple[str, bool]]
) -> None:
    _preload.start_loading(model_path, Settings(n_ctx=1024))
    engine = LlamaEngine.load(model_path, Settings(n_ctx=2048))  # the context is not the weights
    assert reads == [("agentlab-read-weights", True)]
    assert engine.n_ctx == 2048
    tokens = engine.tokenize("The capital of France is")
    engine.llama.eval(tokens)  # a context on the handed-over weights
    assert engine.llama.n_tokens == len(tokens)


@pytest.mark.llm
def test_weights_read_for_other_settings_are_dropped(
    model_path: Path, reads: list[tuple[str, bool]]
) -> None:
    _preload.start_loading(model_path, Settings(cpu_extra_buffers="off"))
    engine = LlamaEngine.load(model_path, Settings(cpu_extra_buffers="on"))
    assert reads == [("agentlab-read-weights", False), ("MainThread", True)]
    direct = read_weights(model_path, extra_buffers=True)
    direct.free()
    assert engine.buffers == direct.buffers
    assert _preload._started == {}


@pytest.mark.llm
def test_reading_weights_in_a_thread_leaves_stdout_and_stderr_alone(
    model_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    _preload.start_loading(model_path, Settings())
    while _preload._started and not next(iter(_preload._started.values())).done():
        print("still here", flush=True)
        sys.stderr.write("and here\n")
    _preload.load_model(model_path, Settings())
    out, err = capfd.readouterr()
    assert out.count("still here") == err.count("and here") > 0


def test_a_failed_load_is_reported_where_the_model_is_asked_for(tmp_path: Path) -> None:
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"not a model")
    _preload.start_loading(bogus, Settings())
    with pytest.raises(ModelFileError, match="could not load"):
        LlamaEngine.load(bogus, Settings())


@pytest.mark.parametrize(
    ("args", "started"),
    [
        (["run", "react", "What is 2 + 2?", "--json"], True),
        (["run", "react", "What is 2 + 2?", "--model", "other"], False),
        (["run", "react", "What is 2 + 2?", "--gpu-layers=4"], False),
        (["run", "react", "What is 2 + 2?", "--ctx", "2048"], True),  # not the weights
        (["run", "--help"], False),
        (["eval", "suite.jsonl"], False),
        ([], False),
    ],
)
def test_only_a_plain_run_starts_loading_early(
    args: list[str], started: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    calls: list[Path] = []
    monkeypatch.setattr(_preload, "start_loading", lambda path, settings: calls.append(path))
    monkeypatch.setenv("AGENTLAB_MODEL", str(model))
    _start_loading_model(args)
    assert calls == ([model] if started else [])


@pytest.mark.parametrize(
    "env", [{"AGENTLAB_MODEL": "auto"}, {"AGENTLAB_BACKEND": "http://127.0.0.1:9"}]
)
def test_no_early_load_for_a_cascade_or_a_server(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(_preload, "start_loading", lambda path, settings: calls.append(path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    _start_loading_model(["run", "react", "hi"])
    assert calls == []


@pytest.mark.llm
def test_two_threads_loading_two_models_at_once_each_get_their_own(
    model_path: Path, default_model_path: Path
) -> None:
    loaded: dict[Path, Any] = {}

    def load(path: Path) -> None:
        loaded[path] = load_llama(path, extra_buffers=False, n_ctx=256).llama

    threads = [threading.Thread(target=load, args=(p,)) for p in (model_path, default_model_path)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for path, llama in loaded.items():  # the metadata comes from the weights it was handed
        info = read_model_info(path)
        assert int(llama.metadata[f"{info.architecture}.block_count"]) == info.layers
    assert len(loaded) == 2
