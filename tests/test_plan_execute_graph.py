"""Graph logic of plan-and-execute, with a scripted model (no real model involved)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest
from conftest import assert_snapshot
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agentlab.graphs import AgentSpec
from agentlab.graphs.plan_execute import build_plan_execute_agent, report
from agentlab.testing import ScriptedChatModel, answer, call
from agentlab.tools import tool

SENT: list[str] = []

SPEC_FIELDS = {f.name for f in fields(AgentSpec)}


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def double(x: int) -> int:
    """Double an integer."""
    return 2 * x


@tool(side_effects="acting")
def send(text: str) -> str:
    """Send a message."""
    SENT.append(text)
    return "sent"


TOOLS = [add, double, send]
CONFIG: Any = {"configurable": {"thread_id": "p"}}


def run(turns: list[Any], **kwargs: Any) -> tuple[Any, ScriptedChatModel, dict[str, Any]]:
    model = ScriptedChatModel(turns=turns)
    parts = {k: kwargs.pop(k) for k in SPEC_FIELDS if k in kwargs}  # the rest: the pattern's
    graph = build_plan_execute_agent(
        AgentSpec(model, TOOLS, checkpointer=InMemorySaver(), **parts), **kwargs
    )
    return graph, model, graph.invoke({"messages": [HumanMessage("double 2+3")]}, CONFIG)


def test_steps_run_in_order_and_results_feed_the_next_step_and_the_answer() -> None:
    turns = [
        call("Plan", steps=["Add 2 and 3", "Double the sum from step 1"]),
        call("add", a=2, b=3), answer("5"),
        call("double", x=5), answer("10"),  # no replanning between steps that succeed
        call("Replan", answer="2+3 doubled is 10.", steps=["Double it again"]),
    ]  # fmt: skip
    _, model, state = run(turns)
    assert state["messages"][-1].text == "2+3 doubled is 10."  # all done: the answer wins
    plan = report(state).extra["plan"]
    assert [(s["status"], s["result"]) for s in plan] == [("done", "5"), ("done", "10")]
    second_step_prompt = model.seen[3][-1].text
    assert "Double the sum" in second_step_prompt and "-> 5" in second_step_prompt
    assert [c["name"] for c in report(state).tool_calls] == ["add", "double"]


def test_the_replanner_can_revise_the_remaining_steps_within_a_limit() -> None:
    turns = [
        call("Plan", steps=["Add 2 and 3"]),
        call("add", a=2, b=3), answer("5"),
        call("Replan", answer="", steps=["Double 5"]),
        call("double", x=5), answer("10"),
        call("Replan", answer="", steps=["Double 10"]),
    ]  # fmt: skip
    _, _, state = run(turns, max_replans=1)
    assert "replan limit reached" in state["error"]
    assert [s["step"] for s in report(state).extra["plan"]] == ["Add 2 and 3", "Double 5"]


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (call("Plan", steps=[]), "could not produce a plan: invalid arguments: steps: List should"),
        (call("Plan", steps=["one", "two", "three"]), "more than max_plan_steps=2"),
        (call("Plan", wrong="x"), "could not produce a plan"),
        (answer("no JSON at all"), "its output was not a plan"),
    ],
)
def test_a_plan_that_cannot_be_used_ends_the_run_with_a_clear_error(
    plan: Any, message: str
) -> None:
    _, _, state = run([plan], max_plan_steps=2)
    assert message in state["error"]


def test_a_failed_step_is_recorded_and_the_replanner_decides() -> None:
    turns = [
        call("Plan", steps=["Add 2 and 3"]),
        call("add", a=2, b=3), call("add", a=2, b=3),  # step limit of 2 turns hit
        call("Replan", answer="I could not add them.", steps=[]),
    ]  # fmt: skip
    _, _, state = run(turns, max_steps=2)
    step = report(state).extra["plan"][0]
    assert step["status"] == "failed" and "step limit" in step["result"]
    assert state["messages"][-1].text == "I could not add them."


def test_an_approval_inside_a_step_interrupts_and_resumes_the_whole_graph() -> None:
    SENT.clear()
    turns = [
        call("Plan", steps=["Send hello"]),
        call("send", text="hello"), answer("sent it"),
        call("Replan", answer="Sent.", steps=[]),
    ]  # fmt: skip
    graph, _, state = run(turns)
    assert state["__interrupt__"][0].value["name"] == "send" and SENT == []
    final = graph.invoke(Command(resume="approve"), CONFIG)
    assert SENT == ["hello"] and final["messages"][-1].text == "Sent."


def test_graph_shape_is_pinned() -> None:
    graph = build_plan_execute_agent(AgentSpec(ScriptedChatModel(turns=[]), TOOLS))
    drawn = graph.get_graph().draw_mermaid()
    assert_snapshot(drawn, "plan_execute.mmd")
