"""Where the current run starts in a message history: at the newest user message, its task."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage, HumanMessage

__all__ = ["task_index"]


def task_index(messages: Sequence[BaseMessage]) -> int | None:
    """Index of the newest user message (the current run's task), ``None`` if there is none."""
    found = (i for i in range(len(messages) - 1, -1, -1) if isinstance(messages[i], HumanMessage))
    return next(found, None)
