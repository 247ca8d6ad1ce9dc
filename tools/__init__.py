"""Tools: wrap typed functions (with metadata), load ``MODULE:ATTR`` specs, decide approvals
and run calls safely."""

from agentlab.errors import ToolTimeoutError  # raised by tool calls; kept importable from here
from agentlab.tools._ledger import CallLedger, LedgerEntry
from agentlab.tools._loading import load_tools
from agentlab.tools._meta import SideEffects, ToolMeta, meta_of, with_meta
from agentlab.tools._plugins import ENTRY_POINT_GROUP, PluginTools, discover_plugins
from agentlab.tools._policy import ApprovalPolicy, NeedsApproval
from agentlab.tools._runner import MAX_OUTPUT_CHARS, ToolRunner, format_tool_error
from agentlab.tools._sandbox import SandboxLimits, SandboxResult, namespace_problem, run_sandboxed
from agentlab.tools._selection import ToolOffer
from agentlab.tools._stats import ToolStat, ToolStats
from agentlab.tools._wrap import as_tool, tool
from agentlab.tools.python_exec import make_python_exec, python_exec

__all__ = [
    "ENTRY_POINT_GROUP",
    "MAX_OUTPUT_CHARS",
    "ApprovalPolicy",
    "CallLedger",
    "LedgerEntry",
    "NeedsApproval",
    "PluginTools",
    "SandboxLimits",
    "SandboxResult",
    "SideEffects",
    "ToolMeta",
    "ToolOffer",
    "ToolRunner",
    "ToolStat",
    "ToolStats",
    "ToolTimeoutError",
    "as_tool",
    "discover_plugins",
    "format_tool_error",
    "load_tools",
    "make_python_exec",
    "meta_of",
    "namespace_problem",
    "python_exec",
    "run_sandboxed",
    "tool",
    "with_meta",
]
