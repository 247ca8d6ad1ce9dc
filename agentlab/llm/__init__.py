"""The llama.cpp chat model, the engines it runs on, and the turn protocol that makes small
models call tools.

Names are imported on first use: a command can start loading the weights (``_preload``)
before LangChain, which the chat model needs, has been imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentlab.llm._backend import engine_for_backend
    from agentlab.llm._engine import LlamaEngine
    from agentlab.llm._http_engine import HttpEngine
    from agentlab.llm._native import LoadedLlama, extra_buffers_enabled, load_llama
    from agentlab.llm._openai_engine import OpenAIEngine
    from agentlab.llm.chat_model import LlamaChatModel, bind_tools_but
    from agentlab.llm.engine import AsyncEngine, Completion, Engine
    from agentlab.llm.side_calls import SupportsSideCalls, side_model

_HOMES = {
    "AsyncEngine": "engine", "Completion": "engine", "Engine": "engine",
    "HttpEngine": "_http_engine", "LlamaChatModel": "chat_model", "LlamaEngine": "_engine",
    "LoadedLlama": "_native", "OpenAIEngine": "_openai_engine",
    "SupportsSideCalls": "side_calls", "bind_tools_but": "chat_model",
    "engine_for_backend": "_backend", "extra_buffers_enabled": "_native",
    "load_llama": "_native", "side_model": "side_calls",
}  # fmt: skip

__all__ = [
    "AsyncEngine",
    "Completion",
    "Engine",
    "HttpEngine",
    "LlamaChatModel",
    "LlamaEngine",
    "LoadedLlama",
    "OpenAIEngine",
    "SupportsSideCalls",
    "bind_tools_but",
    "engine_for_backend",
    "extra_buffers_enabled",
    "load_llama",
    "side_model",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'agentlab.llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"agentlab.llm.{home}"), name)
    globals()[name] = value
    return value
