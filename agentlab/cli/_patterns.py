"""The agent patterns the CLI can run, by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from agentlab.config import Settings
from agentlab.context import ContextWindow
from agentlab.errors import UsageError
from agentlab.graphs.react import build_react_agent

__all__ = ["PATTERNS", "build_pattern"]

Builder = Callable[..., CompiledStateGraph[Any, Any, Any, Any]]

PATTERNS: dict[str, Builder] = {"react": build_react_agent}


def build_pattern(
    name: str,
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    settings: Settings,
    checkpointer: BaseCheckpointSaver[Any] | None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    builder = PATTERNS.get(name)
    if builder is None:
        raise UsageError(f"unknown pattern {name!r}; available: {', '.join(sorted(PATTERNS))}")
    context = ContextWindow.from_settings(model, tools, settings)
    return builder(
        model, tools, max_steps=settings.max_steps, checkpointer=checkpointer, context=context
    )
