"""What a run produced: its messages, whether it answered, and its tool calls as the CLI
contract reports them (``{"name", "args", "result", "error"}``).

Each pattern says what its runs did with a ``report`` function over its state
(:class:`RunRecord`): the tool calls, what the pattern has to show of its own (a plan, the
trials), and the lessons it learnt. The state holds only what the pattern itself works with;
records for people and the command line are read from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from agentlab._history import task_index

__all__ = [
    "RunRecord",
    "current_run",
    "latest_task",
    "messages_record",
    "run_answered",
    "split_at_task",
    "tool_call_records",
]


@dataclass(frozen=True)
class RunRecord:
    """What the latest run of a thread did: its tool calls, the pattern's own account
    (``extra``: e.g. the plan or the trials) and the lessons it learnt (kept with its episode)."""

    tool_calls: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)
    lessons: list[str] = field(default_factory=list)


def current_run(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The messages after the latest user message: what the current run did."""
    return split_at_task(messages)[2]


def split_at_task(
    messages: Sequence[BaseMessage],
) -> tuple[list[BaseMessage], str, list[BaseMessage]]:
    """The conversation before the latest user message, that message's text (the current run's
    task, '' if none), and the messages after it."""
    index = task_index(messages)
    if index is None:
        return [], "", list(messages)
    return list(messages[:index]), messages[index].text, list(messages[index + 1 :])


def run_answered(messages: Sequence[BaseMessage], error: object = None) -> bool:
    """Whether a run ended with an answer: its last message is a model turn without tool calls
    and no error was set."""
    last = messages[-1] if messages else None
    return isinstance(last, AIMessage) and not last.tool_calls and not error


def messages_record(values: Mapping[str, Any]) -> RunRecord:
    """The record of a pattern whose tool calls are all in its messages."""
    return RunRecord(tool_call_records(current_run(values.get("messages", []))))


def latest_task(messages: Sequence[BaseMessage]) -> str:
    """The text of the latest user message: the current run's task ('' if none)."""
    return split_at_task(messages)[1]


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
