"""agentlab: local-first agents on LangGraph over an embedded llama.cpp model.

Sibling packages share this namespace: ``agentlab.graphs`` (agent graphs) and
``agentlab.tools`` (tool wrapping and loading).
"""

from agentlab.config import DEFAULT_MODEL, Settings, load_settings
from agentlab.errors import (
    AgentlabError,
    ContextOverflowError,
    ModelFileError,
    ModelNotFoundError,
    ModelPullError,
    RunError,
    ToolLoadError,
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
    "RunError",
    "Settings",
    "ToolLoadError",
    "Tracer",
    "Usage",
    "UsageError",
    "load_settings",
]

__version__ = "0.1.0"
