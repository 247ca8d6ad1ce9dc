"""Memory in every pattern: recall into the prompt head when a run starts, an episode when it
ends.

A pattern wraps its nodes with :func:`remembering`. On the first node of a run (the latest
message is the user's new task) the memories relevant to the task are recalled into the
state's ``recalled`` field, which the pattern places in the stable head of its prompts for the
whole run. When a node ends the run (an answer, or ``error`` set) the run is recorded as an
episode: the task, the answer or error, the tools used, and any lessons the pattern learnt.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END
from langgraph.types import Command

from agentlab.graphs._records import RunRecord, latest_task, messages_record, run_answered
from agentlab.memory import AgentMemory

__all__ = ["MemoryHook", "Report", "remembering"]

Report = Callable[[Mapping[str, Any]], RunRecord]
"""A pattern's account of a run, read from its state (see ``agentlab.graphs._records``)."""


@dataclass(frozen=True)
class MemoryHook:
    """Recall before a run and the episode after it, over an :class:`AgentMemory`.

    At most ``recall_tokens`` of memories join the prompt head. What a task explicitly asks to
    remember ("Remember: ...") is stored as a note and confirmed in the head, so it never
    depends on a small model choosing a tool.
    """

    memory: AgentMemory
    recall_tokens: int = 256

    def recall(self, task: str, count: Callable[[str], int]) -> str:
        if not task.strip():
            return ""
        noted = self.memory.note_request(task)
        block = ""
        if self.recall_tokens:
            block = self.memory.recall_block(task, max_tokens=self.recall_tokens, count=count)
        if noted is not None:  # say it is done, or the model looks for a tool to do it
            block += f"\n\nSaved to memory as the user asked: {noted.text!r}. Confirm this."
        return block.strip()

    def record(
        self,
        messages: Sequence[BaseMessage],
        *,
        error: str | None,
        tools: Sequence[str],
        lessons: Sequence[str] = (),
        thread_id: str | None = None,
    ) -> None:
        answered = run_answered(messages, error)
        self.memory.record_run(
            latest_task(messages),
            answer=messages[-1].text if answered else "",
            status="done" if answered else "failed",
            error=None if answered else error or "the run ended without an answer",
            tools=tools,
            reflections=lessons,
            thread_id=thread_id,
        )


def _ends_run(update: object) -> tuple[bool, dict[str, Any]]:
    """Whether a node's return value ends the run, and the state update it carries."""
    if isinstance(update, Command):
        changes = update.update if isinstance(update.update, dict) else {}
        return update.goto == END, changes
    changes = update if isinstance(update, dict) else {}
    if changes.get("error"):
        return True, changes
    return run_answered(changes.get("messages") or []), changes


def remembering(
    node: Callable[..., Any],
    hook: MemoryHook | None,
    count: Callable[[str], int],
    report: Report = messages_record,
    *,
    recall: bool | Callable[[Mapping[str, Any]], bool] = True,
) -> Callable[..., Any]:
    """``node`` with the run's recall before it (when a run starts at it and ``recall``, or
    ``recall(state)``, holds) and its episode after it (when it ends the run). Without a hook,
    ``node`` itself. An async ``node`` gives an async node; its recall and episode (embedding
    and database work) then run in a worker thread, off the event loop."""
    if hook is None:
        return node
    takes_config = len(inspect.signature(node).parameters) > 1

    def before(state: dict[str, Any]) -> dict[str, str]:
        messages = state["messages"]
        starts = messages and isinstance(messages[-1], HumanMessage)  # a new run
        if starts and (recall(state) if callable(recall) else recall):
            return {"recalled": hook.recall(messages[-1].text, count)}
        return {}

    def after(state: dict[str, Any], update: Any, config: RunnableConfig) -> None:
        ended, changes = _ends_run(update)
        if ended:
            run_messages = [*state["messages"], *(changes.get("messages") or [])]
            final = {**state, **changes, "messages": run_messages}
            record = report(final)
            hook.record(
                run_messages,
                error=final.get("error"),
                tools=[call["name"] for call in record.tool_calls],
                lessons=record.lessons,
                thread_id=config.get("configurable", {}).get("thread_id"),
            )

    if inspect.iscoroutinefunction(node):

        async def arun(state: dict[str, Any], config: RunnableConfig) -> Any:
            recalled = await asyncio.to_thread(before, state)
            state = {**state, **recalled}
            update = await (node(state, config) if takes_config else node(state))
            await asyncio.to_thread(after, state, update, config)
            return _with_recalled(update, recalled)

        return arun

    def run(state: dict[str, Any], config: RunnableConfig) -> Any:
        recalled = before(state)
        state = {**state, **recalled}
        update = node(state, config) if takes_config else node(state)
        after(state, update, config)
        return _with_recalled(update, recalled)

    return run


def _with_recalled(update: Any, recalled: dict[str, str]) -> Any:
    """A node's update carrying what was recalled for the run (nothing when nothing was)."""
    if not recalled:
        return update
    if isinstance(update, Command):
        changes = update.update if isinstance(update.update, dict) else {}
        return Command(goto=update.goto, update={**changes, **recalled})
    return {**(update or {}), **recalled}
