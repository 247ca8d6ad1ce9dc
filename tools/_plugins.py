"""Tool plugins: installed packages that offer tools through the ``agentlab.tools`` entry points.

A package declares, e.g. in its ``pyproject.toml``::

    [project.entry-points."agentlab.tools"]
    weather = "acme_tools:TOOLS"

The object named may be a typed function with a docstring, a LangChain tool, or a list/tuple
of them. A plugin that fails to load is reported, and never hides the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from langchain_core.tools import BaseTool

from agentlab.errors import ToolLoadError
from agentlab.tools._wrap import as_tool

__all__ = ["ENTRY_POINT_GROUP", "PluginTools", "discover_plugins"]

ENTRY_POINT_GROUP = "agentlab.tools"


@dataclass(frozen=True)
class PluginTools:
    """The tools of one entry point, or why it could not be loaded.

    ``entry_point`` reads like its declaration (``"weather = acme_tools:TOOLS"``);
    ``distribution`` is the installed package with its version (``"acme-tools 1.2"``), when known.
    When ``error`` is set, ``tools`` is empty.
    """

    entry_point: str
    distribution: str | None
    tools: tuple[BaseTool, ...]
    error: str | None


def discover_plugins() -> list[PluginTools]:
    """Load every entry point of the ``agentlab.tools`` group, sorted by entry point name.

    Each entry point's module is imported (running its top-level code). Failures are reported
    in :attr:`PluginTools.error` instead of raised.
    """
    found = entry_points(group=ENTRY_POINT_GROUP)
    return [_load(ep) for ep in sorted(found, key=lambda ep: (ep.name, ep.value))]


def _load(ep: EntryPoint) -> PluginTools:
    label = f"{ep.name} = {ep.value}"
    distribution = _distribution(ep)
    try:
        tools = _tools(ep)
    except ToolLoadError as exc:
        return PluginTools(label, distribution, (), str(exc))
    except Exception as exc:  # the plugin's own code raised while importing or converting
        return PluginTools(label, distribution, (), f"{type(exc).__name__}: {exc}")
    return PluginTools(label, distribution, tools, None)


def _tools(ep: EntryPoint) -> tuple[BaseTool, ...]:
    value = ep.load()
    items = list(value) if isinstance(value, list | tuple) else [value]
    if not items:
        raise ToolLoadError(f"{ep.value} is an empty list; it must hold tools or functions")
    # Name a function by itself, anything else by the entry point's target, in error messages.
    return tuple(as_tool(item, name=getattr(item, "__name__", ep.value)) for item in items)


def _distribution(ep: EntryPoint) -> str | None:
    dist = ep.dist
    if dist is None:
        return None
    # A dist-info without a Name field reads as None, whatever the annotations say.
    name: str | None = dist.name
    return f"{name} {dist.version}" if name else None
