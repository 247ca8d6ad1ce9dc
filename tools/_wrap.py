"""Turning plain typed functions into LangChain tools, with agentlab metadata."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, overload

from langchain_core.tools import BaseTool, StructuredTool

from agentlab.errors import ToolLoadError
from agentlab.tools._meta import SideEffects, with_meta

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


@overload
def tool(func: Callable[..., Any], /) -> BaseTool: ...


@overload
def tool(
    *,
    side_effects: SideEffects = ...,
    requires_approval: bool | None = ...,
    timeout_s: float = ...,
    cost: float = ...,
    retries: int = ...,
    job: str | None = ...,
) -> Callable[[Callable[..., Any]], BaseTool]: ...


def tool(
    func: Callable[..., Any] | None = None, /, **meta: Any
) -> BaseTool | Callable[[Callable[..., Any]], BaseTool]:
    """Make a tool of a typed function with a docstring: ``@tool`` or, with metadata,
    ``@tool(side_effects="acting", timeout_s=5, cost=2)`` (see :class:`ToolMeta`)."""

    def wrap(f: Callable[..., Any]) -> BaseTool:
        made = as_tool(f)
        return with_meta(made, **meta) if meta else made

    return wrap(func) if func is not None else wrap
