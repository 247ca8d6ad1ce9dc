"""Nodes written once for ``invoke`` and ``ainvoke``.

A node that calls the model or a sub-agent is written as a generator of :class:`Invoke`: it
yields each call it needs and receives the result (or the call's exception, raised at the
``yield``). :func:`drive` answers the calls with ``invoke``; :func:`adrive` awaits them with
``ainvoke``, so on a server backend a model turn waits on the event loop and holds no thread,
while the node's own work between calls (token counts, databases, a user's checker) runs in a
worker thread, off the loop. :func:`steps_node` makes a graph node that does both.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda

from agentlab.graphs._memory_hook import Report, remembering
from agentlab.graphs._records import messages_record
from agentlab.graphs._spec import AgentSpec

__all__ = ["Invoke", "Steps", "adrive", "drive", "steps_node"]

_R = TypeVar("_R")


@dataclass(frozen=True)
class Invoke:
    """One call a node waits on: ``runnable`` on ``input`` (with the node's ``config`` for a
    sub-agent, so its checkpoints and interrupts belong to the run)."""

    runnable: Runnable[Any, Any]
    input: Any
    config: RunnableConfig | None = None


Steps = Generator[Invoke, Any, _R]
"""A node's work: the calls it yields, the update it returns."""


def drive(steps: Steps[_R]) -> _R:
    """Run ``steps`` with each call made by ``invoke``."""
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            call = steps.throw(error) if error is not None else steps.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        try:
            reply, error = call.runnable.invoke(call.input, call.config), None
        except Exception as exc:  # raised where the node yielded the call
            reply, error = None, exc


async def adrive(steps: Steps[_R]) -> _R:
    """Run ``steps`` with each call awaited by ``ainvoke``; the work between calls runs in a
    worker thread."""

    def advance(reply: Any, error: BaseException | None) -> tuple[bool, Any]:
        try:
            return False, steps.throw(error) if error is not None else steps.send(reply)
        except StopIteration as done:
            return True, done.value

    reply: Any = None
    error: BaseException | None = None
    while True:
        finished, value = await asyncio.to_thread(advance, reply, error)
        if finished:
            return value  # type: ignore[no-any-return]
        try:
            reply, error = await value.runnable.ainvoke(value.input, value.config), None
        except Exception as exc:
            reply, error = None, exc


def steps_node(
    name: str,
    steps: Callable[[Any, RunnableConfig], Steps[Any]],
    spec: AgentSpec | None = None,
    report: Report = messages_record,
    *,
    recall: bool | Callable[[Mapping[str, Any]], bool] = True,
) -> RunnableLambda[Any, Any]:
    """A graph node running ``steps(state, config)`` with :func:`drive` under ``invoke`` and
    :func:`adrive` under ``ainvoke``; given a ``spec``, with its memory as :func:`remembering`
    adds it (recall when ``recall`` holds, the episode when the node ends the run)."""

    def run(state: Any, config: RunnableConfig) -> Any:
        return drive(steps(state, config))

    async def arun(state: Any, config: RunnableConfig) -> Any:
        return await adrive(steps(state, config))

    def remember(node: Callable[..., Any]) -> Callable[..., Any]:
        if spec is None:
            return node
        return remembering(node, spec.memory, spec.model.get_num_tokens, report, recall=recall)

    return RunnableLambda(remember(run), afunc=remember(arun), name=name)
