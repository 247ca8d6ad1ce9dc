"""Human approval of tool calls: the node that pauses a run with LangGraph's ``interrupt()``.

A resumed run re-executes this node from its start, so everything before ``interrupt()`` is
pure: it only reads the state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, ToolCall, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.types import interrupt

from agentlab.errors import UsageError
from agentlab.tools import NeedsApproval

__all__ = ["Decision", "approval_node", "needs_approval", "unanswered_calls"]


@dataclass(frozen=True)
class Decision:
    """A person's answer to a pending call: approve it, run it with other ``args``, or reject
    it with a ``reason`` the model reads."""

    action: Literal["approve", "edit", "reject"]
    args: dict[str, Any] | None = None
    reason: str = ""

    @classmethod
    def parse(cls, value: object) -> Decision:
        """From ``Command(resume=...)``: ``"approve"``, ``{"action": "reject", "reason": ...}``,
        ``{"action": "edit", "args": {...}}`` or a ``Decision``."""
        if isinstance(value, Decision):
            return value
        if value in ("approve", "approved", True):
            return cls("approve")
        data = value if isinstance(value, dict) else {}
        action = data.get("action")
        if action == "approve":
            return cls("approve")
        if action == "reject":
            return cls("reject", reason=str(data.get("reason") or "no reason given"))
        if action == "edit" and isinstance(data.get("args"), dict):
            return cls("edit", args=data["args"])
        raise UsageError(
            f"cannot resume with {value!r}: use 'approve', {{'action': 'reject', 'reason': "
            "'...'}} or {'action': 'edit', 'args': {...}}"
        )


def unanswered_calls(messages: Sequence[AnyMessage]) -> tuple[AIMessage | None, list[ToolCall]]:
    """The latest model turn and those of its tool calls that have no tool message yet."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, AIMessage):
            answered = {m.tool_call_id for m in messages[index + 1 :] if isinstance(m, ToolMessage)}
            return message, [c for c in message.tool_calls if c.get("id") not in answered]
    return None, []


def needs_approval(
    tools: Sequence[BaseTool], policy: NeedsApproval | None
) -> Callable[[ToolCall], bool]:
    by_name = {t.name: t for t in tools}

    def check(call: ToolCall) -> bool:
        tool = by_name.get(call["name"])
        return policy is not None and tool is not None and policy(tool, call["args"])

    return check


def approval_node(
    tools: Sequence[BaseTool], policy: NeedsApproval | None
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A node that asks for a decision on each pending call the policy holds.

    The interrupt value is ``{"name", "args", "id"}`` of the call. Approved calls stay as
    they are, edited calls get the new arguments, rejected calls are answered with a tool
    message carrying the reason, so the model reads why and can change course.
    """
    held = needs_approval(tools, policy)

    def approve(state: dict[str, Any]) -> dict[str, Any]:
        turn, pending = unanswered_calls(state["messages"])
        if turn is None:
            return {}
        calls: list[ToolCall] = []
        replies: list[ToolMessage] = []
        edited = False
        for call in turn.tool_calls:
            if call not in pending or not held(call):
                calls.append(call)
                continue
            decision = Decision.parse(
                interrupt({"name": call["name"], "args": call["args"], "id": call.get("id")})
            )
            if decision.action == "edit" and decision.args is not None:
                call = {**call, "args": decision.args}
                edited = True
            elif decision.action == "reject":
                replies.append(
                    ToolMessage(
                        content=f"the user rejected this call: {decision.reason}",
                        name=call["name"],
                        tool_call_id=call.get("id") or "",
                        status="error",
                    )
                )
            calls.append(call)
        update: list[AnyMessage] = []
        if edited:  # the transcript shows the arguments that actually ran
            kwargs = {k: v for k, v in turn.additional_kwargs.items() if k != "raw"}
            update.append(
                turn.model_copy(update={"tool_calls": calls, "additional_kwargs": kwargs})
            )
        return {"messages": [*update, *replies]}

    return approve
