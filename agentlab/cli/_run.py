"""Running one task through a pattern's graph and shaping the result of the CLI contract."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from agentlab.errors import RunError
from agentlab.tracing import Tracer

__all__ = ["RunResult", "run_task", "tool_call_records"]


@dataclass
class RunResult:
    answer: str
    thread_id: str
    status: str  # "done" | "interrupted" | "failed"
    steps: int
    tool_calls: list[dict[str, Any]]
    pending: dict[str, Any] | None
    usage: dict[str, int | float]
    wall_s: float
    error: str | None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.extra:
            del data["extra"]
        return data


def tool_call_records(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """Each tool call of ``messages`` with its result or error (``None`` while unanswered)."""
    results = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}
    records = []
    for message in messages:
        if not isinstance(message, AIMessage):
            continue
        for call in message.tool_calls:
            reply = results.get(call["id"] or "")
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


def run_task(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    task: str,
    *,
    thread_id: str,
    tracer: Tracer,
    max_steps: int,
    callbacks: Sequence[BaseCallbackHandler] = (),
) -> RunResult:
    """Run ``task`` on ``thread_id`` (continuing its checkpoint) and describe the outcome.

    Run failures (context overflow, model errors) become ``status="failed"`` with the error;
    the checkpoint keeps everything up to the last completed step.
    """
    config: RunnableConfig = {
        "configurable": {"thread_id": thread_id},
        "callbacks": [tracer, *callbacks],
        "recursion_limit": 2 * max_steps + 4,
    }
    before = len(graph.get_state(config).values.get("messages", []))
    started = time.perf_counter()
    error: str | None = None
    try:
        graph.invoke({"messages": [HumanMessage(task)]}, config)
    except RunError as exc:
        error = str(exc)
    wall_s = round(time.perf_counter() - started, 3)
    values = graph.get_state(config).values
    new = values.get("messages", [])[before:]
    error = error or values.get("error")
    last = new[-1] if new else None
    answered = isinstance(last, AIMessage) and not last.tool_calls and error is None
    result = RunResult(
        answer=last.text if answered and last is not None else "",
        thread_id=thread_id,
        status="done" if answered else "failed",
        steps=tracer.usage.model_calls,
        tool_calls=tool_call_records(new),
        pending=None,
        usage=tracer.usage.as_dict(),
        wall_s=wall_s,
        error=error if not answered else None,
    )
    if not answered and result.error is None:
        result.error = "the run ended without an answer"
    tracer.event(
        "run_end", status=result.status, steps=result.steps, wall_s=wall_s, error=result.error
    )
    return result
