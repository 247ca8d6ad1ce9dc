"""ReAct: the model calls tools until it answers, within a step limit and a budget. Calls the
approval policy holds wait for a person (``interrupt``). Reads top to bottom: state, the
agent node, the approval and tool nodes, the route, the graph.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph

from agentlab.budget import RunBudget
from agentlab.context import ContextState, ContextWindow
from agentlab.graphs._approval import approval_node, needs_approval, unanswered_calls
from agentlab.graphs._records import current_run, latest_task, tool_call_records
from agentlab.memory import AgentMemory
from agentlab.tools import ApprovalPolicy, NeedsApproval, ToolRunner, format_tool_error

__all__ = ["ReactState", "RunClock", "build_react_agent", "format_tool_error", "steps_this_run"]


class RunClock(TypedDict):
    started: float  # when the run's first model call began (unix time)
    waited: float  # seconds spent waiting for approval, not charged to the time budget
    paused: float  # when the latest tool calls were emitted


class ReactState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    error: str | None  # set when the run ends without an answer (step limit, budget)
    context: ContextState  # what the model sees of a long history (see agentlab.context)
    clock: RunClock
    recalled: str  # memories recalled for this run, part of the prompt head for all its steps


def steps_this_run(messages: Sequence[BaseMessage]) -> int:
    """Model turns since the latest user message: the steps of the current run."""
    return sum(1 for m in current_run(messages) if isinstance(m, AIMessage))


def _spent(messages: Sequence[BaseMessage]) -> tuple[int, int]:
    """Tool calls made and tokens used by the current run."""
    run = [m for m in current_run(messages) if isinstance(m, AIMessage)]
    calls = sum(len(m.tool_calls) for m in run)
    tokens = sum(m.usage_metadata["total_tokens"] for m in run if m.usage_metadata)
    return calls, tokens


def build_react_agent(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    system_prompt: str | None = None,
    max_steps: int = 8,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    context: ContextWindow | None = None,
    approval: NeedsApproval | None = None,
    runner: ToolRunner | None = None,
    budget: RunBudget | None = None,
    offer: Callable[[Sequence[BaseTool]], Sequence[BaseTool]] | None = None,
    memory: AgentMemory | None = None,
    recall_tokens: int = 256,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile a ReAct graph: ``agent`` calls the model, ``approve`` holds calls for a person,
    ``tools`` runs them.

    A run ends with the model's answer, or with ``error`` set once ``max_steps`` model turns
    have passed without one or the ``budget`` is spent. ``approval`` decides which calls wait
    for ``Command(resume=...)`` (default :class:`~agentlab.tools.ApprovalPolicy`: every
    acting tool; needs a ``checkpointer``). ``runner`` executes calls (default: timeouts and
    retries from each tool's metadata; tool failures and invalid arguments reach the model as
    tool messages with ``status="error"``). ``context`` keeps each call within its token budget
    (default: a cache-aware :class:`~agentlab.context.ContextWindow`); oversized tool outputs
    are cut before they enter the history. ``offer`` picks, orders and labels the tools the
    model sees at each turn (e.g. :class:`~agentlab.tools.ToolOffer`: cheap and reliable
    first, failing tools withheld); by default it sees all of them. With ``memory``, the
    memories most relevant to each run's task (at most ``recall_tokens``) join the prompt head
    for the whole run, each finished run is recorded as an episode, and what a task explicitly
    asks to remember ("Remember: ...") is stored as a note.
    """
    window = context or ContextWindow(model, tools)
    execute = runner or ToolRunner(tools)
    limits = budget or RunBudget()
    policy = approval if approval is not None else ApprovalPolicy()
    held = needs_approval(tools, policy)
    bindings: dict[tuple[tuple[str, str], ...], Runnable[Any, BaseMessage]] = {}

    def bound_for_this_turn() -> Runnable[Any, BaseMessage]:
        view = list(offer(tools)) if offer else list(tools)
        key = tuple((t.name, t.description) for t in view)
        if key not in bindings:  # the same view reuses its binding (and its grammar)
            bindings[key] = model.bind_tools(view) if view else model
        return bindings[key]

    preamble = [SystemMessage(system_prompt)] if system_prompt else []
    approve_calls = approval_node(tools, policy)

    def recall(messages: Sequence[BaseMessage]) -> str:
        task = latest_task(messages)
        if memory is None or not task.strip():
            return ""
        noted = memory.note_request(task)
        block = ""
        if recall_tokens:
            count = model.get_num_tokens
            block = memory.recall_block(task, max_tokens=recall_tokens, count=count)
        if noted is not None:  # say it is done, or the model looks for a tool to do it
            block += f"\n\nSaved to memory as the user asked: {noted.text!r}. Confirm this."
        return block.strip()

    def record_episode(state: ReactState, answer: str, error: str | None) -> None:
        if memory is None:
            return
        messages = state["messages"]
        tools_used = [record["name"] for record in tool_call_records(current_run(messages))]
        status = "failed" if error else "done"
        memory.record_run(latest_task(messages), answer=answer, status=status, error=error,
                          tools=tools_used)  # fmt: skip

    def agent(state: ReactState) -> dict[str, Any]:
        messages = state["messages"]
        now = time.time()
        first = steps_this_run(messages) == 0
        clock = RunClock(started=now, waited=0.0, paused=now) if first else state["clock"]
        recalled = recall(messages) if first else state.get("recalled", "")
        update: dict[str, Any] = {"clock": clock, "recalled": recalled}
        made, tokens = _spent(messages)
        stop = limits.before_model(tokens=tokens, wall_s=now - clock["started"] - clock["waited"])
        if stop:
            record_episode(state, "", stop)
            return {**update, "error": stop}
        head = [*preamble, SystemMessage(recalled)] if recalled else preamble
        prepared = window.prepare(messages, state.get("context"), head)
        response = bound_for_this_turn().invoke(prepared.messages)
        if prepared.update:
            update["context"] = prepared.update
        update["clock"] = {**clock, "paused": time.time()}
        calls = response.tool_calls if isinstance(response, AIMessage) else []
        if calls and steps_this_run(messages) + 1 >= max_steps:
            stop = (
                f"step limit reached: {max_steps} model turns without a final answer "
                "(raise --max-steps or simplify the task)"
            )
        stop = stop or (limits.before_tools(made=made, wanted=len(calls)) if calls else None)
        if stop:
            record_episode(state, "", stop)
            return {**update, "error": stop}
        if not calls:
            record_episode(state, response.text, None)
        return {**update, "messages": [response], "error": None}

    def approve(state: ReactState) -> dict[str, Any]:
        update = approve_calls(dict(state))
        clock = state["clock"]  # the time spent waiting is not the run's
        return {
            **update,
            "clock": {**clock, "waited": clock["waited"] + time.time() - clock["paused"]},
        }

    def run_tools(state: ReactState, config: RunnableConfig) -> dict[str, Any]:
        _, pending = unanswered_calls(state["messages"])
        return {"messages": [window.clip(execute.run(call, config)) for call in pending]}

    def route(state: ReactState) -> str:
        last = state["messages"][-1]
        if state.get("error") or not (isinstance(last, AIMessage) and last.tool_calls):
            return END
        return "approve" if any(held(call) for call in last.tool_calls) else "tools"

    graph = StateGraph(ReactState)
    graph.add_node("agent", agent)
    graph.add_node("approve", approve)
    graph.add_node("tools", run_tools)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["approve", "tools", END])
    graph.add_edge("approve", "tools")
    graph.add_edge("tools", "agent")
    return graph.compile(checkpointer=checkpointer, name="react")
