"""Graph logic of Reflexion, with a scripted model (no real model involved)."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_snapshot
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from agentlab.errors import UsageError
from agentlab.graphs import AgentSpec
from agentlab.graphs.reflexion import Verdict, build_reflexion_agent, expect_all, report
from agentlab.llm import LlamaChatModel
from agentlab.testing import ScriptedChatModel, ScriptedEngine, answer, call
from agentlab.tools import tool

SENT: list[str] = []

SPEC_FIELDS = {f.name for f in fields(AgentSpec)}


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool(side_effects="acting")
def send(text: str) -> str:
    """Send a message."""
    SENT.append(text)
    return "sent"


TOOLS = [add, send]
CONFIG: Any = {"configurable": {"thread_id": "r"}}
LESSON = "Call add instead of guessing the sum."


@pytest.fixture(autouse=True)
def _clear() -> None:
    SENT.clear()


def run(
    turns: list[Any], task: str = "What is 2+3?", **kwargs: Any
) -> tuple[Any, ScriptedChatModel, dict[str, Any]]:
    model = ScriptedChatModel(turns=turns)
    parts = {k: kwargs.pop(k) for k in SPEC_FIELDS if k in kwargs}  # the rest: the pattern's
    graph = build_reflexion_agent(
        AgentSpec(model, TOOLS, checkpointer=InMemorySaver(), **parts), **kwargs
    )
    return graph, model, graph.invoke({"messages": [HumanMessage(task)]}, CONFIG)


def last_user_text(seen: list[Any]) -> str:
    return next(m.text for m in reversed(seen) if isinstance(m, HumanMessage))


def test_a_reflection_reaches_the_next_trial_which_passes_with_the_answer() -> None:
    turns = [
        answer("2+3 is 6"),  # trial 1: wrong
        call("Reflection", reflection=LESSON),
        call("add", a=2, b=3), answer("2+3 is 5"),  # trial 2
    ]  # fmt: skip
    _, model, state = run(turns, checker=expect_all("5"))
    reflect_prompt = last_user_text(model.seen[1])
    assert "2+3 is 6" in reflect_prompt and "the answer lacks '5'" in reflect_prompt
    second_trial = last_user_text(model.seen[2])
    assert second_trial.startswith("What is 2+3?")
    assert f"Lessons from earlier attempts:\n- {LESSON}" in second_trial
    assert second_trial.endswith("Feedback on the last attempt: the answer lacks '5'")
    assert LESSON not in last_user_text(model.seen[0])
    final = state["messages"][-1]
    assert isinstance(final, AIMessage) and final.text == "2+3 is 5" and not final.tool_calls
    assert [type(m).__name__ for m in state["messages"]] == ["HumanMessage", "AIMessage"]
    assert report(state).extra == {"trials": 2, "reflections": [LESSON], "passed_on_trial": 2}
    first, second = state["trials"]
    assert (first["passed"], second["passed"]) == (False, True)
    assert first["feedback"] == "the answer lacks '5'" and first["reflection"] == LESSON
    assert second["feedback"] == "" and second["answer"] == "2+3 is 5"
    assert second["tool_calls"] == [
        {"name": "add", "args": {"a": 2, "b": 3}, "result": "5", "error": None}
    ]
    assert state.get("error") is None


def test_a_long_reflection_is_cut_short() -> None:
    turns = [answer("6"), call("Reflection", reflection="check " * 200), answer("5")]
    _, _, state = run(turns, checker=expect_all("5"))
    (kept,) = report(state).extra["reflections"]
    assert 0 < len(kept) <= 300 and kept.startswith("check check")


def test_the_trial_limit_ends_the_run_with_the_last_feedback_and_no_answer() -> None:
    turns = [answer("6"), call("Reflection", reflection=LESSON), answer("7")]
    _, model, state = run(turns, checker=expect_all("5"), max_trials=2)
    assert state["error"] == "no trial passed in 2 trials: the answer lacks '5'"
    assert len(model.seen) == 3  # no reflection after the last trial
    assert isinstance(state["messages"][-1], HumanMessage)
    assert report(state).extra == {"trials": 2, "reflections": [LESSON], "passed_on_trial": None}


def test_a_trial_that_hits_the_step_limit_fails_with_that_error_as_feedback() -> None:
    turns = [call("add", a=2, b=3), call("Reflection", reflection=LESSON), answer("5")]
    _, model, state = run(turns, checker=expect_all("5"), max_steps=1)
    first = state["trials"][0]
    assert first["passed"] is False and first["answer"] == ""
    assert first["feedback"].startswith("step limit reached: 1")
    assert "step limit reached: 1" in last_user_text(model.seen[1])  # the reflector read it
    assert report(state).extra["passed_on_trial"] == 2 and state["messages"][-1].text == "5"


def test_a_raising_checker_sets_the_error_and_the_trial_can_be_judged_again() -> None:
    def broken(task: str, answer: str) -> bool:
        raise ValueError("checker bug")

    checkpointer = InMemorySaver()
    model = ScriptedChatModel(turns=[answer("5")])
    graph = build_reflexion_agent(
        AgentSpec(model, TOOLS, checkpointer=checkpointer), checker=broken
    )
    state = graph.invoke({"messages": [HumanMessage("What is 2+3?")]}, CONFIG)
    assert state["error"] == "the checker failed on trial 1: ValueError: checker bug"
    assert state["trials"][0]["answer"] == "5" and state["trials"][0]["passed"] is None
    assert graph.get_state(CONFIG).next == ()
    before = next(s for s in graph.get_state_history(CONFIG) if s.next == ("evaluator",))
    fixed = build_reflexion_agent(
        AgentSpec(ScriptedChatModel(turns=[]), TOOLS, checkpointer=checkpointer),
        checker=expect_all("5"),
    )
    again = fixed.invoke(None, before.config)  # no trial runs again: the model has no turns
    assert again.get("error") is None and again["messages"][-1].text == "5"
    assert report(again).extra["passed_on_trial"] == 1


def test_without_a_checker_the_model_evaluates_its_own_answers() -> None:
    turns = [
        answer("6"),
        call("Evaluation", correct=False, reason="6 is not 2+3"),
        call("Reflection", reflection=LESSON),
        call("add", a=2, b=3), answer("5"),
        call("Evaluation", correct=True, reason="matches the add result"),
    ]  # fmt: skip
    _, model, state = run(turns)
    judged = last_user_text(model.seen[1])
    assert "Task: What is 2+3?" in judged and "Answer: 6" in judged
    assert 'add({"a": 2, "b": 3}) -> 5' in last_user_text(model.seen[5])
    assert "6 is not 2+3" in last_user_text(model.seen[2])
    assert [t["feedback"] for t in state["trials"]] == ["6 is not 2+3", "matches the add result"]
    assert state["messages"][-1].text == "5" and report(state).extra["passed_on_trial"] == 2


def test_an_evaluator_without_a_verdict_ends_the_run_with_an_error() -> None:
    _, _, state = run([answer("5"), answer("looks right to me")])
    assert state["error"].startswith("the evaluator failed on trial 1:")
    assert isinstance(state["messages"][-1], HumanMessage)


def test_expect_all_verdicts() -> None:
    check = expect_all("Oslo", "4 °C")
    assert check("weather?", "OSLO: 4 °c, light snow") == Verdict(True)
    missing = check("weather?", "Oslo is cold")
    assert missing == Verdict(False, "the answer lacks '4 °C'")
    assert check("weather?", "sunny") == Verdict(False, "the answer lacks 'Oslo', '4 °C'")
    hidden = expect_all("Oslo", "4 °C", reveal=False)("weather?", "Oslo is cold")
    assert hidden == Verdict(False, "the answer lacks 1 of 2 expected facts")
    assert expect_all()("anything", "") == Verdict(True)


def test_a_checker_may_return_a_plain_bool() -> None:
    turns = [answer("6"), call("Reflection", reflection=LESSON), answer("5")]
    _, _, state = run(turns, checker=lambda task, answer: answer == "5")
    assert state["trials"][0]["feedback"] == "the answer did not pass the check"
    assert report(state).extra["passed_on_trial"] == 2


def test_an_approval_inside_a_trial_interrupts_the_run_and_resumes(tmp_path: Path) -> None:
    """As with the CLI: the resume comes from a new graph over the same checkpoint file."""
    path = str(tmp_path / "checkpoints.sqlite")
    first = ScriptedChatModel(turns=[call("send", text="hi")])
    with SqliteSaver.from_conn_string(path) as saver:
        graph = build_reflexion_agent(
            AgentSpec(first, TOOLS, checkpointer=saver), checker=expect_all("sent")
        )
        state = graph.invoke({"messages": [HumanMessage("send hi")]}, CONFIG)
        (pending,) = state["__interrupt__"]
        assert pending.value["name"] == "send" and pending.value["args"] == {"text": "hi"}
        assert graph.get_state(CONFIG).interrupts[0].value["name"] == "send"
    assert SENT == []
    second = ScriptedChatModel(turns=[answer("sent hi")])
    with SqliteSaver.from_conn_string(path) as saver:
        graph = build_reflexion_agent(
            AgentSpec(second, TOOLS, checkpointer=saver), checker=expect_all("sent")
        )
        final = graph.invoke(Command(resume="approve"), CONFIG)
    assert SENT == ["hi"]
    (shown,) = second.seen  # the trial went on from its checkpoint; it did not start over
    assert isinstance(shown[-1], ToolMessage) and shown[-1].text == "sent"
    assert final["messages"][-1].text == "sent hi" and report(final).extra["passed_on_trial"] == 1


def test_with_llama_models_the_side_calls_keep_the_trial_prompt_cache() -> None:
    def verdict(correct: bool) -> str:  # structured outputs are the bare object
        return json.dumps({"correct": correct, "reason": "checked"})

    engine = ScriptedEngine(
        [
            '{"thought": "guess", "answer": "6"}',
            verdict(False),
            '{"reflection": "Call add."}',
            '{"thought": "t", "answer": "5"}',
            verdict(True),
        ]
    )
    graph = build_reflexion_agent(
        AgentSpec(LlamaChatModel(engine=engine), TOOLS, checkpointer=InMemorySaver())
    )
    state = graph.invoke({"messages": [HumanMessage("What is 2+3?")]}, CONFIG)
    assert report(state).extra == {"trials": 2, "reflections": ["Call add."], "passed_on_trial": 2}
    kept = [c.kept_cache for c in engine.calls]
    assert kept == [False, True, True, False, True]  # trials refill, judging does not


def test_a_new_task_on_the_thread_starts_with_fresh_trials() -> None:
    turns = [answer("6"), answer("the sum was 6")]
    graph, model, state = run(turns, checker=expect_all("5"), max_trials=1)
    assert state["error"] == "no trial passed in 1 trial: the answer lacks '5'"
    state = graph.invoke({"messages": [HumanMessage("What did I ask?")]}, CONFIG)
    assert report(state).extra == {"trials": 1, "reflections": [], "passed_on_trial": None}
    assert state["error"] == "no trial passed in 1 trial: the answer lacks '5'"
    shown = [m.text for m in model.seen[1] if isinstance(m, HumanMessage)]
    assert shown == ["What is 2+3?", "What did I ask?"]  # earlier turns reach the actor


def test_max_trials_must_be_positive() -> None:
    with pytest.raises(UsageError, match="max_trials"):
        build_reflexion_agent(AgentSpec(ScriptedChatModel(turns=[]), TOOLS), max_trials=0)


def test_graph_shape_is_pinned() -> None:
    graph = build_reflexion_agent(AgentSpec(ScriptedChatModel(turns=[]), TOOLS))
    drawn = graph.get_graph().draw_mermaid()
    assert_snapshot(drawn, "reflexion.mmd")
