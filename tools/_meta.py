"""What agentlab knows about a tool beyond its schema: side effects, approval, timeout, cost.

The metadata lives in the tool's own ``metadata`` dict under ``"agentlab"``, so a LangChain
tool carries it wherever it goes and any tool can be annotated after the fact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from langchain_core.tools import BaseTool

from agentlab.errors import ToolLoadError

__all__ = ["SideEffects", "ToolMeta", "meta_of", "with_meta"]

SideEffects = Literal["read-only", "acting"]
_KEY = "agentlab"


@dataclass(frozen=True)
class ToolMeta:
    """How a tool may be run.

    ``side_effects``: ``"acting"`` tools change something outside the agent (send, write,
    delete, pay); by default each of their calls waits for a person's approval.
    ``requires_approval``: overrides that default for this tool (``None``: decided by policy).
    ``timeout_s``: a call running longer is abandoned and reported to the model as an error.
    ``cost``: a relative cost estimate per call (money, quota or seconds; lower is preferred).
    ``retries``: how often a transient failure (connection, ``TransientToolError``) is
    retried with backoff; other failures are not retried.
    ``job``: tools naming the same job are interchangeable (two weather services, a primary and
    a backup API); the model is offered only the most reliable, cheapest one at a time.
    """

    side_effects: SideEffects = "read-only"
    requires_approval: bool | None = None
    timeout_s: float = 30.0
    cost: float = 1.0
    retries: int = 2
    job: str | None = None

    def __post_init__(self) -> None:
        if self.side_effects not in ("read-only", "acting"):
            raise ToolLoadError(
                f"side_effects must be 'read-only' or 'acting', not {self.side_effects!r}"
            )
        if not self.timeout_s > 0:
            raise ToolLoadError(f"timeout_s must be positive, not {self.timeout_s!r}")
        if self.cost < 0 or self.retries < 0:
            raise ToolLoadError("cost and retries cannot be negative")


def meta_of(tool: BaseTool) -> ToolMeta:
    """The tool's metadata; tools never annotated get the defaults (read-only, 30 s, cost 1)."""
    raw = (tool.metadata or {}).get(_KEY)
    if isinstance(raw, ToolMeta):
        return raw
    if not isinstance(raw, dict):
        return ToolMeta()
    known = {f.name for f in fields(ToolMeta)}
    return ToolMeta(**{k: v for k, v in raw.items() if k in known})


def with_meta(tool: BaseTool, **changes: Any) -> BaseTool:
    """Annotate ``tool`` (in place, and returned): ``with_meta(t, side_effects="acting")``."""
    known = {f.name for f in fields(ToolMeta)}
    unknown = sorted(set(changes) - known)
    if unknown:
        raise ToolLoadError(
            f"unknown tool metadata {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    meta = replace(meta_of(tool), **changes)
    tool.metadata = {**(tool.metadata or {}), _KEY: asdict(meta)}
    return tool
