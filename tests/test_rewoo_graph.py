"""ReWOO, plans with placeholders: graph logic with a scripted model, and one smoke run on the
real model."""

from __future__ import annotations

import json
import time
from dataclasses import fields
from typing import Any

import pytest
from conftest import assert_snapshot
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agentlab.graphs import AgentSpec
from agentlab.graphs._rewoo_args import as_number, bind_args, is_short, value_model
from agentlab.graphs._rewoo_plan import plan_model
from agentlab.graphs._steps import Invoke, Steps, drive
from agentlab.graphs.rewoo import build_rewoo_agent, report
from agentlab.testing import ScriptedChatModel, answer, call
from agentlab.tools import tool

RAN: list[str] = []

SPEC_FIELDS = {f.name for f in fields(AgentSpec)}


@tool
def lookup(name: str) -> str:
    """Facts about a company."""
    RAN.append("lookup")
    return f"{name} is a drone maker founded in 2011 with 1275 employees."


@tool
def calc(expression: str) -> str:
    """Evaluate an arithmetic expression."""
    RAN.append("calc")
    left, op, right = expression.split()
    return str({"*": int(left) * int(right), "+": int(left) + int(right)}[op])


@tool
def scale(value: float, factor: float) -> str:
    """Multiply a value by a factor."""
    RAN.append("scale")
    return f"{value * factor:g}"


@tool
def broken(text: str) -> str:
    """Always fails."""
    raise ValueError(f"cannot handle {text!r}")


@tool(side_effects="acting")
def send(text: str) -> str:
    """Send a message."""
    RAN.append(f"send:{text}")
    return "sent"


TOOLS = [lookup, calc, scale, broken, send]
CONFIG: Any = {"configurable": {"thread_id": "w"}}


def step(id: str, tool: str, **args: Any) -> dict[str, Any]:
    return {"id": id, "tool": tool, "args": args}


def plan(*steps: dict[str, Any]) -> Any:
    return call("Plan", steps=list(steps))


def run(turns: list[Any], task: str = "the task", **kwargs: Any) -> tuple[Any, Any, Any]:
    RAN.clear()
    model = ScriptedChatModel(turns=turns)
    parts = {k: kwargs.pop(k) for k in SPEC_FIELDS if k in kwargs}  # the rest: the pattern's
    graph = build_rewoo_agent(
        AgentSpec(model, TOOLS, checkpointer=InMemorySaver(), **parts), **kwargs
    )
    return graph, model, graph.invoke({"messages": [HumanMessage(task)]}, CONFIG)


def test_a_short_result_is_filled_in_without_a_model_call() -> None:
    turns = [
        plan(step("E1", "scale", value=2, factor=3), step("E2", "scale", value="#E1", factor=10)),
        call("Answer", answer="60"),
    ]
    _, model, state = run(turns)
    second = report(state).extra["plan"][1]
    assert second["args"] == {"value": "#E1", "factor": 10}
    assert second["args_run"] == {"value": 6, "factor": 10} and second["result"] == "60"
    assert len(model.seen) == 2 and report(state).extra["model_calls"] == 2  # planner and solver
    assert state["messages"][-1].text == "60" and state.get("error") is None
    assert [c["name"] for c in report(state).tool_calls] == ["scale", "scale"]


def test_a_value_inside_a_sentence_is_extracted_by_one_short_model_call() -> None:
    turns = [
        plan(step("E1", "lookup", name="Zorblat"), step("E2", "calc", expression="#E1 * 3")),
        call("Value", value=1275),
        call("Answer", answer="Zorblat has 1275 employees; times 3 is 3825."),
    ]
    _, model, state = run(turns, "How many employees does Zorblat have? Times 3?")
    second = report(state).extra["plan"][1]
    assert second["args_run"] == {"expression": "1275 * 3"} and second["result"] == "3825"
    assert report(state).extra["model_calls"] == 3
    extraction = model.seen[1][-1].text
    assert "with 1275 employees" in extraction and "expression" in extraction
    solver_prompt = model.seen[2][-1].text
    assert "1275 employees" in solver_prompt and "returned: «3825»" in solver_prompt
    assert "every part" in model.seen[2][0].text


def test_an_extracted_value_the_result_does_not_hold_fails_the_step() -> None:
    turns = [
        plan(step("E1", "lookup", name="Zorblat"), step("E2", "calc", expression="#E1 * 3")),
        call("Value", value=3675),  # made up: not a number of the result
    ]
    _, _, state = run(turns, max_replans=0)
    assert "the value 3675 is not in the result of #E1 (for 'expression')" in state["error"]
    assert RAN == ["lookup"] and report(state).extra["plan"][1]["status"] == "failed"


def test_a_number_is_chosen_among_those_the_result_holds() -> None:
    schema = value_model("number", "Founded in 2011, it has 1,275 staff.").model_json_schema()
    assert schema["properties"]["value"]["enum"] == [2011, 1275]
    with pytest.raises(ValueError, match="holds no whole number"):
        value_model("integer", "No entry found.")


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (step("E1", "calc", expression="#E9 * 2"), "refers to #E9, but there is no step"),
        (step("E1", "launch", target="x"), "unknown tool 'launch'"),
        (step("E1", "calc", expression="#E1 + 1"), "refers to itself"),
        (step("E1", "scale", value="#E2", factor=2), "refers to #E2, a later step"),
        (step("E1", "scale", value=1), "missing the argument 'factor'"),
        (step("E1", "scale", value="many", factor=2), "argument 'value': Input should be"),
        (step("E1", "calc", expression="1 + 1", mode="x"), "has no argument 'mode'"),
    ],
)
def test_an_unusable_plan_is_replanned_once_then_fails_clearly(bad: Any, problem: str) -> None:
    turns = [plan(bad, step("E2", "lookup", name="x")), plan(bad, step("E2", "lookup", name="x"))]
    _, model, state = run(turns)
    assert problem in state["error"] and "after 1 replan" in state["error"]
    assert problem in model.seen[1][-1].text  # the planner was told what was wrong
    assert report(state).extra["replans"] == 1 and RAN == [] and report(state).tool_calls == []


def test_duplicate_ids_and_a_corrected_plan() -> None:
    turns = [
        plan(step("E1", "lookup", name="x"), step("E1", "lookup", name="y")),
        plan(step("E1", "scale", value=1, factor=2)),
        call("Answer", answer="2"),
    ]
    _, model, state = run(turns)
    assert "two steps have the id E1" in model.seen[1][-1].text
    assert state["messages"][-1].text == "2" and state.get("error") is None
    assert report(state).extra["problems"] and report(state).extra["replans"] == 1


def test_output_that_is_not_a_plan_is_replanned() -> None:
    _, _, state = run([answer("no JSON"), call("Plan", wrong=1)])
    assert "the model's output was not a plan" in state["error"]


def test_a_failing_tool_gets_one_replan_with_the_results_so_far() -> None:
    turns = [
        plan(step("E1", "scale", value=2, factor=3), step("E2", "broken", text="#E1")),
        plan(step("E1", "scale", value=2, factor=3), step("E2", "scale", value="#E1", factor=2)),
        call("Answer", answer="12"),
    ]
    _, model, state = run(turns)
    replan_prompt = model.seen[1][-1].text
    assert "E1 = scale(value=2, factor=3) returned: «6»" in replan_prompt
    assert "E2 = broken(text=\"6\") failed: «ValueError: cannot handle '6'»" in replan_prompt
    assert RAN == ["scale", "scale"]  # the repeated E1 was reused, not run again
    assert state["messages"][-1].text == "12" and report(state).extra["replans"] == 1
    assert [c["error"] is None for c in report(state).tool_calls] == [True, False, True]


def test_a_second_failure_ends_the_run_with_a_clear_error() -> None:
    failing = plan(step("E1", "broken", text="a"))
    _, _, state = run([failing, failing])
    error = state["error"]
    assert error.startswith('step E1 broken(text="a") failed: ValueError: cannot handle')
    assert error.endswith("(after 1 replan)")
    assert report(state).extra["plan"][0]["status"] == "failed"


def test_an_acting_tool_waits_for_approval_and_the_reply_decides() -> None:
    turns = [plan(step("E1", "send", text="hello")), call("Answer", answer="Sent.")]
    graph, _, state = run(turns)
    assert state["__interrupt__"][0].value["name"] == "send" and RAN == []
    final = graph.invoke(Command(resume={"action": "edit", "args": {"text": "hi"}}), CONFIG)
    assert RAN == ["send:hi"] and final["messages"][-1].text == "Sent."
    assert report(final).extra["plan"][0]["args_run"] == {"text": "hi"}


def test_a_rejected_call_fails_its_step() -> None:
    graph, _, _ = run([plan(step("E1", "send", text="x"))], max_replans=0)
    final = graph.invoke(Command(resume={"action": "reject", "reason": "no"}), CONFIG)
    assert "the user rejected this call: no" in final["error"] and RAN == []


def test_the_step_limit_bounds_model_calls() -> None:
    _, _, state = run([plan(step("E1", "scale", value=1, factor=2))], max_steps=1)
    assert "step limit reached: 1 model calls" in state["error"]


def test_references_are_filled_in_by_type() -> None:
    asked: list[tuple[str, str, str]] = []

    def extract(name: str, ref: str, kind: str) -> Steps[Any]:  # a call that gives the value
        asked.append((name, ref, kind))
        value = RunnableLambda(lambda _: {"number": 7.0, "string": "Oslo"}[kind])
        return (yield Invoke(value, None))

    properties = {"value": {"type": "number"}, "city": {"type": "string"}, "n": {"type": "integer"}}
    results = {"E1": "1,275", "E2": "It is in Oslo, the capital.", "E3": "Lisbon",
               "E4": "The trail is 18 km long."}  # fmt: skip
    args = {"value": "#E1", "city": "#E2", "q": "weather in #E3 and #E2", "n": "#E4"}
    bound = drive(bind_args(args, properties, results, extract))  # type: ignore[arg-type]
    assert bound == {"value": 1275, "city": "Oslo", "q": "weather in Lisbon and Oslo", "n": 18}
    assert asked == [("city", "E2", "string"), ("q", "E2", "string")]
    inside = bind_args({"x": "#E1 / 2"}, {}, {"E1": "a b c d e f"}, extract)  # type: ignore[arg-type]
    assert drive(inside) == {"x": "7 / 2"}
    assert as_number("-3.5") == -3.5 and as_number("12 km") is None and not is_short("a b c d e")


def test_the_plan_schema_allows_only_the_tools_with_their_arguments() -> None:
    from llama_cpp.llama_grammar import LlamaGrammar

    schema = convert_to_openai_tool(plan_model([scale, calc], 4))["function"]["parameters"]
    steps = schema["properties"]["steps"]
    assert steps["maxItems"] == 4 and steps["minItems"] == 1
    branches = steps["items"]["anyOf"]
    assert [b["properties"]["tool"] for b in branches] == [{"enum": ["scale"]}, {"enum": ["calc"]}]
    value = branches[0]["properties"]["args"]["properties"]["value"]
    assert {"type": "string", "pattern": "^#E[1-9][0-9]?$"} in value["anyOf"]
    LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)  # a valid grammar


def test_graph_shape_is_pinned() -> None:
    graph = build_rewoo_agent(AgentSpec(ScriptedChatModel(turns=[]), TOOLS))
    drawn = graph.get_graph().draw_mermaid()
    assert_snapshot(drawn, "rewoo.mmd")


@pytest.mark.llm
def test_rewoo_on_the_real_model_plans_runs_and_fills_in_references(chat_model: Any) -> None:
    from agentlab.tools.demo import TOOLS as DEMO

    graph = build_rewoo_agent(AgentSpec(chat_model, DEMO, checkpointer=InMemorySaver()))
    task = "How many employees does Zephyr Dynamics have? Multiply it by 3."
    started = time.perf_counter()
    state = graph.invoke({"messages": [HumanMessage(task)]}, CONFIG)
    answer_text = state["messages"][-1].text
    record = report(state)
    print(f"rewoo smoke: {time.perf_counter() - started:.1f} s, answer={answer_text!r}, "
          f"extra={record.extra}")  # fmt: skip
    steps = record.extra["plan"]
    assert steps and record.tool_calls, state.get("error")
    for done in (s for s in steps if s["status"] == "done"):
        assert "#E" not in json.dumps(done["args_run"])  # every reference was filled in
    assert "3825" in answer_text
