"""Turning plain typed functions into LangChain tools."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool

from agentlab.errors import ToolLoadError

__all__ = ["as_tool", "tool"]


def as_tool(obj: BaseTool | Callable[..., Any], *, name: str | None = None) -> BaseTool:
    """Return ``obj`` if it is a LangChain tool, else wrap a typed, documented function.

    The schema comes from the type hints; the description and argument descriptions from the
    docstring (Google style ``Args:`` section, when present).
    """
    if isinstance(obj, BaseTool):
        return obj
    label = name or getattr(obj, "__name__", repr(obj))
    if not callable(obj) or inspect.isclass(obj):
        raise ToolLoadError(f"{label} is not a function or a LangChain tool")
    if not (inspect.getdoc(obj) or "").strip():
        raise ToolLoadError(
            f"function {label} has no docstring; add one saying what the tool does "
            "(the model reads it to decide when to call the tool)"
        )
    try:
        return StructuredTool.from_function(
            obj, parse_docstring=True, error_on_invalid_docstring=False
        )
    except (ValueError, TypeError) as exc:
        raise ToolLoadError(f"cannot make a tool of {label}: {exc}") from None


def tool(func: Callable[..., Any]) -> BaseTool:
    """Decorator form of :func:`as_tool`: ``@tool`` over a typed function with a docstring."""
    return as_tool(func)
