"""Tools: wrap typed functions, accept LangChain tools, load ``MODULE:ATTR`` specs."""

from agentlab.tools._loading import load_tools
from agentlab.tools._wrap import as_tool, tool

__all__ = ["as_tool", "load_tools", "tool"]
