"""Which tool calls wait for a person's approval."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from langchain_core.tools import BaseTool

from agentlab.config import ApprovalMode
from agentlab.tools._meta import meta_of

__all__ = ["ApprovalPolicy", "NeedsApproval"]


class NeedsApproval(Protocol):
    """Any callable deciding whether a call of ``tool`` with ``args`` must be approved."""

    def __call__(self, tool: BaseTool, args: dict[str, Any]) -> bool: ...


@dataclass(frozen=True)
class ApprovalPolicy:
    """The default policy: names listed in ``always``/``never`` first, then the tool's own
    ``requires_approval``, then ``mode``: ``"acting"`` (every acting tool, the default),
    ``"all"`` or ``"none"``."""

    mode: ApprovalMode = "acting"
    always: frozenset[str] = field(default_factory=frozenset)
    never: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls, mode: ApprovalMode = "acting", always: Iterable[str] = (), never: Iterable[str] = ()
    ) -> ApprovalPolicy:
        return cls(mode, frozenset(always), frozenset(never))

    def __call__(self, tool: BaseTool, args: dict[str, Any]) -> bool:
        if tool.name in self.always:
            return True
        if tool.name in self.never:
            return False
        meta = meta_of(tool)
        if meta.requires_approval is not None:
            return meta.requires_approval
        return self.mode == "all" or (self.mode == "acting" and meta.side_effects == "acting")
