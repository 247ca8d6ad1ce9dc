"""agentlab: local-first agents on LangGraph over an embedded llama.cpp model.

Sibling packages share this namespace: ``agentlab.graphs`` (agent graphs) and
``agentlab.tools`` (tools, approval policy and safe execution).
"""

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
from agentlab.llm import LlamaChatModel
from agentlab.tracing import Tracer, Usage

if TYPE_CHECKING:
    from agentlab.graphs import build_agent

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


def __getattr__(name: str) -> Any:
    # build_agent wires graphs, tools and memory together, so it lives in agentlab.graphs; it
    # is imported on first use here, which keeps the core free of the layers above it.
    if name == "build_agent":
        from agentlab.graphs import build_agent

        return build_agent
    raise AttributeError(f"module 'agentlab' has no attribute {name!r}")
