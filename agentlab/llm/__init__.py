"""The llama.cpp chat model, the engines it runs on, and the turn protocol that makes small
models call tools."""

from agentlab.llm._backend import engine_for_backend
from agentlab.llm._engine import LlamaEngine
from agentlab.llm._http_engine import HttpEngine
from agentlab.llm._native import LoadedLlama, extra_buffers_enabled, load_llama
from agentlab.llm._openai_engine import OpenAIEngine
from agentlab.llm.chat_model import LlamaChatModel, bind_tools_but
from agentlab.llm.engine import AsyncEngine, Completion, Engine
from agentlab.llm.side_calls import SupportsSideCalls, side_model

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
