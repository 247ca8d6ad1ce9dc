"""The agent patterns on the real model: each runs end to end with grammar-bound structured
outputs and real tool calls (smoke tests; success rates are in docs/PERFORMANCE.md)."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.checkpoint.memory import InMemorySaver

from agentlab.graphs import AgentSpec, plan_execute, reflexion
from agentlab.graphs.multi_agent import build_multi_agent, default_team
from agentlab.graphs.plan_execute import Plan, build_plan_execute_agent
from agentlab.graphs.reflexion import build_reflexion_agent, expect_all
from agentlab.tools.demo import TOOLS

pytestmark = pytest.mark.llm

TASK = "What is the weather like in Oslo right now?"


def invoke(graph: Any, task: str = TASK) -> dict[str, Any]:
    config = {"configurable": {"thread_id": "smoke"}, "recursion_limit": 60}
    return graph.invoke({"messages": [HumanMessage(task)]}, config)  # type: ignore[no-any-return]


def test_structured_output_is_a_valid_object_from_the_schema_grammar(chat_model: Any) -> None:
    plan = chat_model.with_structured_output(Plan).invoke(
        [SystemMessage("Plan the steps of the task."),
         HumanMessage("What is the temperature in Tokyo in Fahrenheit?")]
    )  # fmt: skip
    assert isinstance(plan, Plan)
    assert 1 <= len(plan.steps) <= 6 and all(len(step) >= 3 for step in plan.steps)


def test_plan_execute_plans_and_runs_each_step_with_tools(chat_model: Any) -> None:
    state = invoke(
        build_plan_execute_agent(AgentSpec(chat_model, TOOLS, checkpointer=InMemorySaver()))
    )
    plan = plan_execute.report(state).extra["plan"]
    assert plan and all(step["status"] in ("done", "failed") for step in plan)
    assert "get_weather" in [call["name"] for call in plan_execute.report(state).tool_calls]
    assert state.get("error") or state["messages"][-1].text


def test_reflexion_checks_each_trial_and_keeps_reflections(chat_model: Any) -> None:
    graph = build_reflexion_agent(
        AgentSpec(chat_model, TOOLS, checkpointer=InMemorySaver()), checker=expect_all("snow")
    )
    state = invoke(graph)
    trials = state["trials"]
    assert 1 <= len(trials) <= 3 and all(t["passed"] is not None for t in trials)
    assert all(t["reflection"] for t in trials[:-1])  # every failed trial left a lesson
    if reflexion.report(state).extra["passed_on_trial"]:
        assert "snow" in state["messages"][-1].text.lower()
    else:
        assert "no trial passed" in state["error"]


def test_multi_agent_routes_to_specialists_of_its_team(chat_model: Any) -> None:
    team = default_team(TOOLS)
    graph = build_multi_agent(AgentSpec(chat_model, TOOLS, checkpointer=InMemorySaver()), team=team)
    state = invoke(graph)
    names = {member.name for member in team}
    assert state["route"] and set(state["route"]) <= names
    assert state.get("error") or state["messages"][-1].text
