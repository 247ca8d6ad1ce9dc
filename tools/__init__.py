"""Tools: wrap typed functions (with metadata), load ``MODULE:ATTR`` specs, decide approvals
and run calls safely."""

from agentlab.tools._ledger import CallLedger, LedgerEntry
from agentlab.tools._loading import load_tools
from agentlab.tools._meta import SideEffects, ToolMeta, meta_of, with_meta
from agentlab.tools._plugins import ENTRY_POINT_GROUP, PluginTools, discover_plugins
from agentlab.tools._policy import ApprovalMode, ApprovalPolicy, NeedsApproval
from agentlab.tools._runner import MAX_OUTPUT_CHARS, ToolRunner, ToolTimeoutError, format_tool_error
from agentlab.tools._stats import ToolStat, ToolStats
from agentlab.tools._wrap import as_tool, tool

__all__ = [
    "ENTRY_POINT_GROUP",
    "MAX_OUTPUT_CHARS",
    "ApprovalMode",
    "ApprovalPolicy",
    "CallLedger",
    "LedgerEntry",
    "NeedsApproval",
    "PluginTools",
    "SideEffects",
    "ToolMeta",
    "ToolRunner",
    "ToolStat",
    "ToolStats",
    "ToolTimeoutError",
    "as_tool",
    "discover_plugins",
    "format_tool_error",
    "load_tools",
    "meta_of",
    "tool",
    "with_meta",
]
