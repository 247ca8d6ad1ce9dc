"""ReAct: the model calls tools until it answers, within a step limit and a budget. Calls the
approval policy holds wait for a person (``interrupt``). A call a tool rejected on a guessed
value is taken back and its turn decided again without that tool (``_ReactNodes.withdraw``).
Reads top to bottom: state, the agent node, the approval and tool nodes, the route, the graph.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    RemoveMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph

from agentlab.context import ContextState, Prepared
from agentlab.graphs._approval import approval_node, needs_approval, unanswered_calls
from agentlab.graphs._memory_hook import remembering
from agentlab.graphs._records import current_run
from agentlab.graphs._spec import AgentSpec
from agentlab.llm import bind_tools_but
from agentlab.tools import format_tool_error

__all__ = ["ReactState", "RunClock", "build_react_agent", "format_tool_error", "steps_this_run"]

_MAX_WITHDRAWN = 2  # rejected calls on guessed values taken back per run


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


@dataclass(frozen=True)
class _Turn:
    """A model turn about to be taken: the run's clock, the tool calls made so far, the
    context window's view of the messages, and the model bound to the tools offered."""

    clock: RunClock
    made: int
    prepared: Prepared
    model: Runnable[Any, BaseMessage]


class _ReactNodes:
    """The graph's nodes, sharing the spec's model, tools and limits."""

    def __init__(self, spec: AgentSpec) -> None:
        self.spec = spec
        self.window = spec.window()
        self.runner = spec.tool_runner()
        self.held = needs_approval(spec.tools, spec.policy())
        self.approve_calls = approval_node(spec.tools, spec.policy())
        self.preamble = [SystemMessage(spec.system_prompt)] if spec.system_prompt else []
        self.bindings: dict[
            tuple[tuple[tuple[str, str], ...], tuple[str, ...]], Runnable[Any, BaseMessage]
        ] = {}

    def bound_for_this_turn(self, left_out: Sequence[str] = ()) -> Runnable[Any, BaseMessage]:
        """The model bound to the tools offered this turn, less those ``left_out``."""
        tools, offer = self.spec.tools, self.spec.offer
        view = list(offer(tools)) if offer else list(tools)
        key = (tuple((t.name, t.description) for t in view), tuple(left_out))
        if key not in self.bindings:  # the same view reuses its binding (and its grammar)
            model = self.spec.model
            if left_out:
                self.bindings[key] = bind_tools_but(model, view, left_out)
            else:
                self.bindings[key] = model.bind_tools(view) if view else model
        return self.bindings[key]

    def agent(self, state: ReactState) -> dict[str, Any]:
        turn = self._prepare(state)
        if isinstance(turn, dict):
            return turn
        response = turn.model.invoke(turn.prepared.messages)
        return self._settle(state, turn, response)

    async def aagent(self, state: ReactState) -> dict[str, Any]:
        """``agent`` for ``ainvoke``/``astream``: the model turn is awaited (on the event loop
        with a server backend); preparing the turn counts tokens, may summarize and reads the
        tool statistics, so it runs in a worker thread."""
        turn = await asyncio.to_thread(self._prepare, state)
        if isinstance(turn, dict):
            return turn
        response = await turn.model.ainvoke(turn.prepared.messages)
        return self._settle(state, turn, response)

    def _prepare(
        self, state: ReactState, left_out: Sequence[str] = (), again: bool = False
    ) -> _Turn | dict[str, Any]:
        """What the model sees this turn (``again``: a turn decided again, on the run's
        clock), or the update that ends the run before it."""
        messages, now = state["messages"], time.time()
        first = steps_this_run(messages) == 0 and not again
        clock = RunClock(started=now, waited=0.0, paused=now) if first else state["clock"]
        made, tokens = _spent(messages)
        stop = self.spec.budget.before_model(
            tokens=tokens, wall_s=now - clock["started"] - clock["waited"]
        )
        if stop:
            return {"clock": clock, "error": stop}
        recalled = state.get("recalled", "")
        head = [*self.preamble, SystemMessage(recalled)] if recalled else self.preamble
        prepared = self.window.prepare(messages, state.get("context"), head)
        return _Turn(clock, made, prepared, self.bound_for_this_turn(left_out))

    def _settle(self, state: ReactState, turn: _Turn, response: BaseMessage) -> dict[str, Any]:
        """The update after the model's turn: its message, or why the run stops here."""
        update: dict[str, Any] = {"clock": {**turn.clock, "paused": time.time()}}
        if turn.prepared.update:
            update["context"] = turn.prepared.update
        calls = response.tool_calls if isinstance(response, AIMessage) else []
        max_steps = self.spec.max_steps
        stop = None
        if calls and steps_this_run(state["messages"]) + 1 >= max_steps:
            stop = (
                f"step limit reached: {max_steps} model turns without a final answer "
                "(raise --max-steps or simplify the task)"
            )
        budget = self.spec.budget
        stop = stop or (budget.before_tools(made=turn.made, wanted=len(calls)) if calls else None)
        if stop:
            return {**update, "error": stop}
        return {**update, "messages": [response], "error": None}

    def approve(self, state: ReactState) -> dict[str, Any]:
        update = self.approve_calls(dict(state))
        clock = state["clock"]  # the time spent waiting is not the run's
        return {
            **update,
            "clock": {**clock, "waited": clock["waited"] + time.time() - clock["paused"]},
        }

    def run_tools(self, state: ReactState, config: RunnableConfig) -> dict[str, Any]:
        messages = state["messages"]
        turn, pending = unanswered_calls(messages)
        replies = [self.window.clip(self.runner.run(call, config)) for call in pending]
        own = len(pending) == 1 and turn is messages[-1] and len(turn.tool_calls) == 1
        own = own and not self.held(pending[0])
        if own and _guessed(pending[0], replies[0], messages):
            return self.withdraw(state, pending[0]["name"]) or {"messages": replies}
        return {"messages": replies}

    def withdraw(self, state: ReactState, tool: str) -> dict[str, Any] | None:
        """Take back the latest turn's rejected call and decide the turn again with ``tool``
        (and the tools withdrawn before it in this run) left out of the grammar; ``None``
        when the run has withdrawn ``_MAX_WITHDRAWN`` calls or its budget is spent. Only the
        model's own single call, unanswered and not held for a person, is taken back: a call
        a person approved or edited keeps its error.

        A small model that calls a tool with a name of the wrong kind from the task, or with
        a value it made up, reads the tool's error as "there is no such thing" and answers so;
        decided again, it mostly looks up what the name stands for, or answers a question
        that needed no tool. The call still ran and is traced; the transcript drops it."""
        messages = state["messages"]
        marked = [m for m in current_run(messages)
                  if isinstance(m, AIMessage) and "withdrawn" in m.response_metadata]  # fmt: skip
        withdrawn = list(marked[-1].response_metadata["withdrawn"]) if marked else []
        if len(withdrawn) >= _MAX_WITHDRAWN:
            return None
        before = state.copy()
        before["messages"] = list(messages[:-1])
        left_out = [*withdrawn, tool]  # every call taken back in this run, in order
        turn = self._prepare(before, left_out, again=True)
        if isinstance(turn, dict):
            return None
        response = turn.model.invoke(turn.prepared.messages)
        taken_back = messages[-1]
        if isinstance(response, AIMessage):
            response.response_metadata["withdrawn"] = left_out
            response.usage_metadata = _sum_usage(taken_back, response)
        update = self._settle(before, turn, response)
        return {**update, "messages": [RemoveMessage(id=str(taken_back.id)),
                                       *update.get("messages", [])]}  # fmt: skip

    def after_tools(self, state: ReactState) -> str:
        """Back to the model, or on with the turn that replaced a withdrawn call."""
        return self.route(state) if isinstance(state["messages"][-1], AIMessage) else "agent"

    def route(self, state: ReactState) -> str:
        last = state["messages"][-1]
        if state.get("error") or not (isinstance(last, AIMessage) and last.tool_calls):
            return END
        return "approve" if any(self.held(call) for call in last.tool_calls) else "tools"


def _guessed(call: ToolCall, reply: ToolMessage, messages: Sequence[BaseMessage]) -> bool:
    """A call the tool rejected, none of whose text arguments came from an observation of this
    run: a value from the task's wording or the model's own guess (numbers are not judged)."""
    if not reply.additional_kwargs.get("rejected"):
        return False
    texts = [_plain(v) for v in call["args"].values() if isinstance(v, str) and v.strip()]
    seen = [_plain(m.text) for m in current_run(messages) if isinstance(m, ToolMessage)]
    return bool(texts) and not any(text in observed for text in texts for observed in seen)


def _plain(text: str) -> str:
    return " ".join(text.casefold().split())


def _sum_usage(taken_back: BaseMessage, response: AIMessage) -> UsageMetadata | None:
    """The new turn's token usage with the withdrawn turn's added, so budgets count both."""
    before = getattr(taken_back, "usage_metadata", None)
    after = response.usage_metadata
    if not before or not after:
        return after or before
    return {
        **after,
        "input_tokens": before["input_tokens"] + after["input_tokens"],
        "output_tokens": before["output_tokens"] + after["output_tokens"],
        "total_tokens": before["total_tokens"] + after["total_tokens"],
    }


def build_react_agent(spec: AgentSpec) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile a ReAct graph: ``agent`` calls the model, ``approve`` holds calls for a person,
    ``tools`` runs them.

    A run ends with the model's answer, or with ``error`` set once ``spec.max_steps`` model
    turns have passed without one or the budget is spent. The approval policy decides which
    calls wait for ``Command(resume=...)`` (needs a checkpointer). Tool failures and invalid
    arguments reach the model as tool messages with ``status="error"``; oversized tool outputs
    are cut before they enter the history. The tool offer picks, orders and labels the tools
    the model sees at each turn. With memory, the memories most relevant to each run's task
    join the prompt head for the whole run, and each finished run is recorded as an episode.
    The input may carry ``recalled`` (a parent agent's recall) for the head of every turn.
    """
    nodes = _ReactNodes(spec)
    count = spec.model.get_num_tokens
    graph = StateGraph(ReactState)
    agent = RunnableLambda(
        remembering(nodes.agent, spec.memory, count),
        afunc=remembering(nodes.aagent, spec.memory, count),
        name="agent",
    )
    graph.add_node("agent", agent)
    graph.add_node("approve", nodes.approve)
    graph.add_node("tools", nodes.run_tools)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", nodes.route, ["approve", "tools", END])
    graph.add_edge("approve", "tools")
    graph.add_conditional_edges("tools", nodes.after_tools, ["agent", "approve", "tools", END])
    return graph.compile(checkpointer=spec.checkpointer, name="react")
