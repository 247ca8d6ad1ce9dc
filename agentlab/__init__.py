"""agentlab: local-first agents on LangGraph over an embedded llama.cpp model.

Sibling packages share this namespace: ``agentlab.graphs`` (agent graphs) and
``agentlab.tools`` (tools, approval policy and safe execution).
"""

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
    "load_settings",
]

__version__ = "0.1.0"
