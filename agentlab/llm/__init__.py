"""The llama.cpp chat model and the turn protocol that makes small models call tools."""

from agentlab.llm._engine import Completion, LlamaEngine
from agentlab.llm._native import LoadedLlama, extra_buffers_enabled, load_llama
from agentlab.llm.chat_model import LlamaChatModel

__all__ = [
    "Completion",
    "LlamaChatModel",
    "LlamaEngine",
    "LoadedLlama",
    "extra_buffers_enabled",
    "load_llama",
]
