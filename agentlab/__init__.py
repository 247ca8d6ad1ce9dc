"""agentlab: local-first agents on LangGraph over an embedded llama.cpp model.

Sibling packages share this namespace: ``agentlab.graphs`` (agent graphs) and
``agentlab.tools`` (tools, approval policy and safe execution).
"""

import importlib
from typing import TYPE_CHECKING, Any

from agentlab.budget import RunBudget
from agentlab.config import DEFAULT_MODEL, Settings, load_settings
from agentlab.errors import (
    AgentlabError,
    ContextOverflowError,
    ModelFileError,
    ModelNotFoundError,
    ModelPullError,
    RunError,
    StoreError,
    ToolLoadError,
    ToolTimeoutError,
    TransientToolError,
    UsageError,
)

if TYPE_CHECKING:
    from agentlab.graphs import build_agent
    from agentlab.llm import LlamaChatModel
    from agentlab.tracing import Tracer, Usage

__all__ = [
    "DEFAULT_MODEL",
    "AgentlabError",
    "ContextOverflowError",
    "LlamaChatModel",
    "ModelFileError",
    "ModelNotFoundError",
    "ModelPullError",
    "RunBudget",
    "RunError",
    "Settings",
    "StoreError",
    "ToolLoadError",
    "ToolTimeoutError",
    "Tracer",
    "TransientToolError",
    "Usage",
    "UsageError",
    "build_agent",
    "load_settings",
]

__version__ = "0.1.0"


# Imported on first use: build_agent wires graphs, tools and memory together, so it lives in
# agentlab.graphs (the core stays free of the layers above it); the chat model and the tracer
# import LangChain, which a command should not wait for before it starts loading the weights.
_LAZY = {
    "build_agent": "agentlab.graphs", "LlamaChatModel": "agentlab.llm",
    "Tracer": "agentlab.tracing", "Usage": "agentlab.tracing",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module 'agentlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
