"""Graph logic of the ReAct agent, with a scripted model (no real model involved)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_snapshot
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatResult
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command
from pydantic import Field

from agentlab.graphs import AgentSpec
from agentlab.graphs.react import build_react_agent, steps_this_run
from agentlab.testing import ScriptedChatModel, answer, call
from agentlab.tools import ApprovalPolicy, as_tool

SPEC_FIELDS = {f.name for f in fields(AgentSpec)}


def get_weather(city: str) -> str:
    """Weather in a city."""
    if city != "Oslo":
        raise ValueError(f"unknown city {city!r}")
    return "Oslo: 4 °C, light snow"


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


TOOLS = [as_tool(get_weather), as_tool(add)]


def run(model: ScriptedChatModel, task: str, **kwargs: object) -> dict[str, object]:
    parts = {k: kwargs.pop(k) for k in SPEC_FIELDS if k in kwargs}  # the rest: the pattern's
    graph = build_react_agent(
        AgentSpec(model, TOOLS, checkpointer=InMemorySaver(), **parts), **kwargs
    )
    return graph.invoke({"messages": [HumanMessage(task)]}, {"configurable": {"thread_id": "t"}})


def test_tool_result_reaches_the_model_and_the_answer_ends_the_run() -> None:
    model = ScriptedChatModel(turns=[call("get_weather", city="Oslo"), answer("4 °C in Oslo")])
    state = run(model, "weather in Oslo?")
    messages = state["messages"]
    assert isinstance(messages[-1], AIMessage) and messages[-1].text == "4 °C in Oslo"
    tool_message = model.seen[1][-1]
    assert isinstance(tool_message, ToolMessage)
    assert tool_message.text == "Oslo: 4 °C, light snow" and tool_message.status == "success"
    assert model.bound_tools == ["get_weather", "add"]
    assert state.get("error") is None


def test_tool_exception_is_returned_to_the_model_as_an_error() -> None:
    # the city came from an observation, so the call is no guess and its error is shown
    turns = [call("home_city", person="Ana"), call("get_weather", city="Rome"), answer("?")]
    model = OfferedModel(turns=turns)
    state = run_with(model, "weather where Ana lives?", GUESSABLE)
    reply = model.seen[2][-1]
    assert isinstance(reply, ToolMessage) and reply.status == "error"
    assert "unknown city 'Rome'" in reply.text and reply.additional_kwargs["rejected"]
    assert model.offered[2] == ["home_city", "get_weather", "population", "country_of"]
    assert state.get("error") is None


# -- calls on guessed values -------------------------------------------------------------------


def home_city(person: str) -> str:
    """Where a person lives."""
    return f"{person} lives in Rome"


def population(city: str) -> int:
    """Population of a city."""
    raise ValueError(f"unknown city {city!r}; known: Oslo")


def country_of(city: str) -> str:
    """Country of a city."""
    raise ValueError(f"unknown city {city!r}; known: Oslo")


GUESSABLE = [as_tool(home_city), as_tool(get_weather), as_tool(population), as_tool(country_of)]


class OfferedModel(ScriptedChatModel):
    """Also records the tools offered to each call, in order."""

    offered: list[list[str]] = Field(default_factory=list)
    called_at: list[float] = Field(default_factory=list)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.offered.append([tool["function"]["name"] for tool in kwargs.get("tools", [])])
        self.called_at.append(time.time())
        return super()._generate(messages, stop, run_manager, **kwargs)


def run_with(model: ScriptedChatModel, task: str, tools: list[Any]) -> dict[str, Any]:
    graph = build_react_agent(AgentSpec(model, tools, checkpointer=InMemorySaver()))
    return graph.invoke({"messages": [HumanMessage(task)]}, {"configurable": {"thread_id": "t"}})


def test_a_rejected_call_on_a_guessed_value_is_withdrawn_and_the_turn_decided_again() -> None:
    turns = [call("get_weather", city="Rome"), answer("I cannot check Rome")]
    model = OfferedModel(turns=turns)
    state = run_with(model, "weather in Rome?", GUESSABLE)
    assert model.offered == [
        ["home_city", "get_weather", "population", "country_of"],
        ["home_city", "population", "country_of"],  # decided again without the tool
    ]
    assert [m.type for m in model.seen[1]] == ["human"]  # the call and its error taken back
    messages = state["messages"]
    assert [m.type for m in messages] == ["human", "ai"] and messages[-1].text == (
        "I cannot check Rome"
    )
    assert messages[-1].response_metadata["withdrawn"] == ["get_weather"]
    assert state["clock"]["started"] <= model.called_at[0]  # still the run's clock


def test_a_call_a_person_approved_keeps_its_error() -> None:
    model = OfferedModel(turns=[call("get_weather", city="Rome"), answer("no weather for Rome")])
    spec = AgentSpec(
        model, GUESSABLE, checkpointer=InMemorySaver(), approval=ApprovalPolicy.of("all")
    )
    graph = build_react_agent(spec)
    config: Any = {"configurable": {"thread_id": "t"}}
    held = graph.invoke({"messages": [HumanMessage("weather in Rome?")]}, config)
    assert held["__interrupt__"][0].value["name"] == "get_weather"
    state = graph.invoke(Command(resume="approve"), config)
    reply = model.seen[1][-1]
    assert isinstance(reply, ToolMessage) and "unknown city 'Rome'" in reply.text
    assert len(model.offered) == 2 and model.offered[1] == model.offered[0]  # not withdrawn
    assert state["messages"][-1].text == "no weather for Rome"


def test_at_most_two_calls_are_withdrawn_a_run() -> None:
    turns = [
        call("get_weather", city="Rome"),
        call("population", city="Atlantis"),  # a made-up value: withdrawn too
        call("country_of", city="Rome"),  # shown: the run has withdrawn two
        answer("unknown"),
    ]
    model = OfferedModel(turns=turns)
    state = run_with(model, "weather in Rome?", GUESSABLE)
    assert model.offered[1:3] == [
        ["home_city", "population", "country_of"],
        ["home_city", "country_of"],
    ]
    assert model.offered[3] == ["home_city", "get_weather", "population", "country_of"]
    errors = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert len(errors) == 1 and "unknown city 'Rome'" in errors[0].text
    calls = [m.tool_calls[0]["name"] for m in state["messages"] if isinstance(m, AIMessage)
             and m.tool_calls]  # fmt: skip
    assert calls == ["country_of"]
    assert state["messages"][-1].text == "unknown" and state.get("error") is None


def test_invalid_arguments_are_reported_with_the_field() -> None:
    model = ScriptedChatModel(turns=[call("add", a="one", b=2), answer("sorry")])
    run(model, "add one and two")
    reply = model.seen[1][-1]
    assert isinstance(reply, ToolMessage) and reply.status == "error"
    assert "invalid arguments" in reply.text and "a" in reply.text


def test_step_limit_ends_the_run_with_an_error_not_a_hang() -> None:
    turns = [call("add", a=i, b=1) for i in range(10)]
    model = ScriptedChatModel(turns=turns)
    state = run(model, "count forever", max_steps=3)
    assert "step limit reached: 3" in str(state["error"])
    assert len(model.seen) == 3
    assert steps_this_run(state["messages"]) == 2  # the third turn's call was not executed


def test_a_thread_resumes_from_its_sqlite_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.sqlite"
    config = {"configurable": {"thread_id": "shared"}}
    first = ScriptedChatModel(turns=[call("add", a=2, b=3), answer("5")])
    with SqliteSaver.from_conn_string(str(path)) as saver:
        build_react_agent(AgentSpec(first, TOOLS, checkpointer=saver)).invoke(
            {"messages": [HumanMessage("2+3?")]}, config
        )
    second = ScriptedChatModel(turns=[answer("you asked 2+3")])
    with SqliteSaver.from_conn_string(str(path)) as saver:
        state = build_react_agent(AgentSpec(second, TOOLS, checkpointer=saver)).invoke(
            {"messages": [HumanMessage("what did I ask?")]}, config
        )
    shown = second.seen[0]
    assert [type(m).__name__ for m in shown] == [
        "HumanMessage", "AIMessage", "ToolMessage", "AIMessage", "HumanMessage",
    ]  # fmt: skip
    assert state["messages"][-1].text == "you asked 2+3"
    assert sqlite3.connect(path).execute("select count(*) from checkpoints").fetchone()[0] > 0


def test_graph_shape_is_pinned() -> None:
    graph = build_react_agent(AgentSpec(ScriptedChatModel(turns=[]), TOOLS))
    drawn = graph.get_graph().draw_mermaid()
    assert_snapshot(drawn, "react.mmd")


def test_scripted_model_refuses_to_be_called_past_its_script() -> None:
    model = ScriptedChatModel(turns=[call("add", a=1, b=1)])
    with pytest.raises(IndexError, match="1 turns; call 2"):
        run(model, "loop", max_steps=5)
