"""Loading tools named on the command line as ``MODULE:ATTR[,MODULE:ATTR...]``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from langchain_core.tools import BaseTool

from agentlab.errors import ToolLoadError
from agentlab.tools._plugins import discover_plugins
from agentlab.tools._wrap import as_tool

__all__ = ["load_tools"]


def load_tools(spec: str) -> list[BaseTool]:
    """Import every ``MODULE:ATTR`` in the comma-separated ``spec`` and return their tools.

    ``ATTR`` may be a function, a LangChain tool, or a list/tuple of them. The current
    directory is importable, as with ``python -m``. An entry without a colon names an installed
    plugin (an ``agentlab.tools`` entry point). Tool names must be unique.
    """
    tools: list[BaseTool] = []
    for entry in (part.strip() for part in spec.split(",")):
        if entry:
            tools.extend(_load_entry(entry))
    if not tools:
        raise ToolLoadError(f"--tools {spec!r} names no tools; use MODULE:ATTR")
    names = [t.name for t in tools]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ToolLoadError(f"tool names must be unique; repeated: {', '.join(duplicates)}")
    return tools


def _load_entry(entry: str) -> list[BaseTool]:
    module_name, sep, attr = entry.partition(":")
    if not sep:
        return _load_plugin(entry)
    if not module_name or not attr:
        raise ToolLoadError(f"tool entry {entry!r} is not MODULE:ATTR (e.g. mytools:TOOLS)")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ToolLoadError(f"cannot import module {module_name!r} for {entry!r}: {exc}") from None
    except Exception as exc:  # the user's module raised while importing
        raise ToolLoadError(
            f"importing {module_name!r} for {entry!r} failed: {type(exc).__name__}: {exc}"
        ) from None
    if not hasattr(module, attr):
        raise ToolLoadError(f"module {module_name!r} has no attribute {attr!r} ({entry!r})")
    value = getattr(module, attr)
    items = list(value) if isinstance(value, list | tuple) else [value]
    if not items:
        raise ToolLoadError(f"{entry!r} is an empty list; it must hold tools or functions")
    return [as_tool(item, name=f"{entry}") for item in items]


def _load_plugin(name: str) -> list[BaseTool]:
    plugins = {p.entry_point.split(" = ")[0]: p for p in discover_plugins()}
    plugin = plugins.get(name)
    if plugin is None:
        known = ", ".join(sorted(plugins)) or "none installed"
        raise ToolLoadError(
            f"tool entry {name!r} is neither MODULE:ATTR (e.g. mytools:TOOLS) nor an installed "
            f"plugin (plugins: {known})"
        )
    if plugin.error:
        raise ToolLoadError(f"plugin {name!r} ({plugin.entry_point}) fails to load: {plugin.error}")
    return list(plugin.tools)
