"""ReAct: the model calls tools until it answers, with a step limit. Reads top to bottom:
state, the agent node, the route, the graph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.prebuilt.tool_node import ToolCallRequest, ToolInvocationError
from langgraph.types import Command
from pydantic import ValidationError

from agentlab.context import ContextState, ContextWindow

__all__ = ["ReactState", "build_react_agent", "format_tool_error", "steps_this_run"]


class ReactState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    error: str | None  # set when the run ends without an answer (step limit)
    context: ContextState  # what the model sees of a long history (see agentlab.context)


def steps_this_run(messages: Sequence[BaseMessage]) -> int:
    """Model turns since the latest user message: the steps of the current run."""
    steps = 0
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            break
        if isinstance(message, AIMessage):
            steps += 1
    return steps


def format_tool_error(exc: Exception) -> str:
    """What the model reads when a tool call fails: short, and says what to fix."""
    if isinstance(exc, ToolInvocationError):  # ToolNode wraps the arguments' ValidationError
        exc = exc.source
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return f"invalid arguments: {problems}"
    return f"{type(exc).__name__}: {exc}"


def build_react_agent(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    system_prompt: str | None = None,
    max_steps: int = 8,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    context: ContextWindow | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile a ReAct graph: ``agent`` calls the model, ``tools`` runs its tool calls.

    A run ends with the model's answer, or with ``error`` set once ``max_steps`` model turns
    have passed without one. Tool exceptions and invalid arguments reach the model as tool
    messages with ``status="error"``. ``context`` keeps each call within its token budget
    (default: a cache-aware :class:`~agentlab.context.ContextWindow` over the model);
    oversized tool outputs are cut before they enter the history.
    """
    window = context or ContextWindow(model, tools)
    bound = model.bind_tools(list(tools)) if tools else model
    preamble = [SystemMessage(system_prompt)] if system_prompt else []

    def clip_output(
        request: ToolCallRequest, execute: Callable[[ToolCallRequest], ToolMessage | Command[Any]]
    ) -> ToolMessage | Command[Any]:
        result = execute(request)
        return window.clip(result) if isinstance(result, ToolMessage) else result

    def agent(state: ReactState) -> dict[str, Any]:
        messages = state["messages"]
        prepared = window.prepare(messages, state.get("context"), preamble)
        response = bound.invoke(prepared.messages)
        update: dict[str, Any] = {"context": prepared.update} if prepared.update else {}
        calls_tool = isinstance(response, AIMessage) and bool(response.tool_calls)
        if calls_tool and steps_this_run(messages) + 1 >= max_steps:
            return {
                **update,
                "error": f"step limit reached: {max_steps} model turns without a final answer "
                "(raise --max-steps or simplify the task)",
            }
        return {**update, "messages": [response], "error": None}

    def route(state: ReactState) -> str:
        last = state["messages"][-1]
        if state.get("error") or not (isinstance(last, AIMessage) and last.tool_calls):
            return END
        return "tools"

    graph = StateGraph(ReactState)
    graph.add_node("agent", agent)
    graph.add_node(
        "tools",
        ToolNode(list(tools), handle_tool_errors=format_tool_error, wrap_tool_call=clip_output),
    )
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph.compile(checkpointer=checkpointer, name="react")
