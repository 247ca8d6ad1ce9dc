"""Reading a model's weights in a background thread while a command imports its modules.

A fresh ``agentlab run`` spends about a second importing LangChain and LangGraph and about as
long reading the weights (and repacking them, on CPUs that use extra buffers). llama.cpp
loads without holding the GIL, so the two overlap: :func:`start_loading` begins reading, and
:func:`load_model` uses what was read when it is asked for the same file with the same
weight parameters; any other request loads as before.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, wait
from pathlib import Path
from typing import Any

from agentlab.config import Settings
from agentlab.llm._native import (
    LoadedLlama,
    Weights,
    extra_buffers_enabled,
    load_llama,
    read_weights,
)

__all__ = ["load_model", "start_loading"]

_GGML_TYPES = {"f16": 1, "q8_0": 8, "q4_0": 2}  # ggml_type values (llama_cpp.GGML_TYPE_*)
_started: dict[tuple[str, bool, int], Future[Weights]] = {}
_lock = threading.Lock()


def start_loading(path: Path, settings: Settings) -> None:
    """Begin reading the weights of ``path`` as ``settings`` ask, in a thread the process
    waits for at exit (so it never ends while llama.cpp is half-way through a load)."""
    key = _key(path, settings)
    future: Future[Weights] = Future()
    with _lock:
        if _started.setdefault(key, future) is not future:
            return

    def read() -> None:
        try:
            future.set_result(read_weights(path, extra_buffers=key[1], n_gpu_layers=key[2]))
        except BaseException as exc:  # raised where the model is asked for
            future.set_exception(exc)

    threading.Thread(target=read, name="agentlab-read-weights").start()


def load_model(path: Path, settings: Settings) -> LoadedLlama:
    """The model as ``settings`` ask, on the weights :func:`start_loading` read if it read
    these; weights read for another request are freed first."""
    key = _key(path, settings)
    with _lock:
        future = _started.pop(key, None)
        dropped = list(_started.values())
        _started.clear()
    for other in wait(dropped).done:
        if other.exception() is None:
            other.result().free()
    weights = None if future is None else future.result()
    return load_llama(path, extra_buffers=key[1], weights=weights, **_context_params(settings))


def _key(path: Path, settings: Settings) -> tuple[str, bool, int]:
    """What shapes the weights: the file, extra buffers, layers on the GPU."""
    return str(path), extra_buffers_enabled(settings.cpu_extra_buffers), settings.n_gpu_layers


def _context_params(settings: Settings) -> dict[str, Any]:
    return {
        "n_ctx": settings.n_ctx, "n_threads": settings.n_threads,
        "n_threads_batch": settings.n_threads_batch, "n_gpu_layers": settings.n_gpu_layers,
        "type_k": _GGML_TYPES[settings.kv_type_k], "type_v": _GGML_TYPES[settings.kv_type_v],
        "flash_attn": settings.use_flash_attn, "seed": settings.seed,
    }  # fmt: skip
