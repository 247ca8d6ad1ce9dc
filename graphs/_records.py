"""What a run produced: its messages, and its tool calls as the CLI contract reports them
(``{"name", "args", "result", "error"}``).

Patterns whose tool calls happen inside sub-agents keep these records in their state under
``tool_calls``, since the parent's messages hold only the task and the answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

__all__ = ["current_run", "latest_task", "tool_call_records"]


def current_run(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The messages after the latest user message: what the current run did."""
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return list(messages[index + 1 :])
    return list(messages)


def latest_task(messages: Sequence[BaseMessage]) -> str:
    """The text of the latest user message: the current run's task ('' if none)."""
    return next((m.text for m in reversed(messages) if isinstance(m, HumanMessage)), "")


def tool_call_records(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Each tool call of ``messages`` with its result or error (``None`` while unanswered)."""
    replies = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}
    records = []
    for message in messages:
        if not isinstance(message, AIMessage):
            continue
        for call in message.tool_calls:
            reply = replies.get(call.get("id") or "")
            text = reply.text if reply is not None else None
            failed = reply is not None and reply.status == "error"
            records.append(
                {
                    "name": call["name"],
                    "args": call["args"],
                    "result": None if failed else text,
                    "error": text if failed else None,
                }
            )
    return records
