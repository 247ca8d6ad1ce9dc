"""Running one task through a pattern's graph and shaping the result of the CLI contract."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from agentlab.errors import RunError
from agentlab.graphs import PATTERNS
from agentlab.graphs._records import current_run, messages_record, run_answered
from agentlab.tracing import Tracer

__all__ = ["RunResult", "pending_call", "run_task"]


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


def pending_call(
    graph: CompiledStateGraph[Any, Any, Any, Any], thread_id: str
) -> dict[str, Any] | None:
    """The tool call the thread waits to have approved, or ``None``."""
    state = graph.get_state({"configurable": {"thread_id": thread_id}})
    for interrupt in state.interrupts:
        value = interrupt.value
        if isinstance(value, dict) and "name" in value:
            return {"name": value["name"], "args": value.get("args", {})}
    return None


def run_task(
    graph: CompiledStateGraph[Any, Any, Any, Any],
    task: str | Command[Any] | None,
    *,
    thread_id: str,
    tracer: Tracer,
    max_steps: int,
    callbacks: Sequence[BaseCallbackHandler] = (),
) -> RunResult:
    """Run ``task`` on ``thread_id`` (continuing its checkpoint) and describe the outcome.

    ``task`` is a new user message, a ``Command(resume=...)`` answering a pending approval, or
    ``None`` to continue a run that was cut off. Run failures (context overflow, model errors)
    become ``status="failed"`` with the error; the checkpoint keeps everything up to the last
    completed step. A run waiting for approval is ``status="interrupted"`` with ``pending``.
    """
    config: RunnableConfig = {
        "configurable": {"thread_id": thread_id},
        "callbacks": [tracer, *callbacks],
        # Patterns run sub-agents; each has its own limit, the parent needs room for its rounds.
        "recursion_limit": max(3 * max_steps + 4, 40),
    }
    payload = {"messages": [HumanMessage(task)]} if isinstance(task, str) else task
    started = time.perf_counter()
    error: str | None = None
    try:
        graph.invoke(payload, config)
    except RunError as exc:
        error = str(exc)
    wall_s = round(time.perf_counter() - started, 3)
    try:
        values = graph.get_state(config).values
    except RunError as exc:  # the checkpoint store went away: report the run as failed
        error, values = error or str(exc), {}
    new = current_run(values.get("messages", []))
    pending = pending_call(graph, thread_id) if error is None else None
    error = error or values.get("error")
    answered = run_answered(new, error)
    status = "done" if answered else "interrupted" if pending else "failed"
    pattern = PATTERNS.get(graph.name)  # how the pattern reads a run back from its state
    record = (pattern.report if pattern else messages_record)(values)
    result = RunResult(
        answer=new[-1].text if answered else "",
        thread_id=thread_id,
        status=status,
        steps=tracer.usage.model_calls,
        tool_calls=record.tool_calls,
        pending=pending,
        usage=tracer.usage.as_dict(),
        wall_s=wall_s,
        error=error if status == "failed" else None,
        extra=record.extra,
    )
    if status == "failed" and result.error is None:
        result.error = "the run ended without an answer"
    tracer.event(
        "run_end", status=result.status, steps=result.steps, wall_s=wall_s, error=result.error
    )
    return result
