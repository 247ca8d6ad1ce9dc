"""Memory in every pattern (scripted model: this tests the wiring, not the model): what is
recalled reaches the prompts of the whole run, and each run is recorded as one episode;
Reflexion's lessons are stored with it and recalled by a later run of a similar task."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from agentlab.graphs import AgentSpec, MemoryHook
from agentlab.graphs.multi_agent import build_multi_agent
from agentlab.graphs.plan_execute import build_plan_execute_agent
from agentlab.graphs.reflexion import build_reflexion_agent, expect_all, report
from agentlab.graphs.rewoo import build_rewoo_agent
from agentlab.memory import EPISODE, AgentMemory, MemoryFilter
from agentlab.testing import HashEmbeddings, ScriptedChatModel, answer, call
from agentlab.tools import tool

FACT = "the staging database is db-7 and Priya owns it"
TASK = "Who owns the staging database db-7?"


@tool
def lookup(query: str) -> str:
    """Look up a fact."""
    return f"no record of {query}"


def _memory(path: Path) -> AgentMemory:
    memory = AgentMemory.open(path, HashEmbeddings())
    memory.note_request(f"Remember: {FACT}")
    return memory


class _CountingHook(MemoryHook):
    """Counts recalls: a run recalls once, however often its entry node is entered."""

    recalls: list[str]

    def recall(self, task: str, count: Callable[[str], int]) -> str:
        self.recalls.append(task)
        return super().recall(task, count)


def _texts(seen: list[list[BaseMessage]]) -> list[str]:
    return ["\n".join(m.text for m in call_messages) for call_messages in seen]


def _plan_execute(spec: AgentSpec) -> Any:
    return build_plan_execute_agent(spec)


PLAN_EXECUTE = [
    call("Plan", steps=["Say who owns it"]),
    answer("Priya"),
    call("Replan", answer="Priya owns db-7.", steps=[]),
]
REWOO = [
    call("Plan", steps=[{"id": "E1", "tool": "lookup", "args": {"query": "db-7"}}]),
    call("Answer", answer="Priya owns db-7."),
]
TEAM = [
    call(
        "TeamPlan",
        handoffs=[{"instruction": "Find the owner of db-7", "to": "researcher"}],
        answer="",
    ),
    call("lookup", query="db-7"),
    answer("Priya"),
    call("Answer", answer="Priya owns db-7."),
]
BUILDERS: dict[str, tuple[Callable[[AgentSpec], Any], list[Any], int]] = {
    # pattern: (builder, scripted turns, model calls that carry the run's prompt head)
    "plan-execute": (_plan_execute, PLAN_EXECUTE, 3),
    "rewoo": (build_rewoo_agent, REWOO, 2),
    "rewoo, after an unusable plan": (build_rewoo_agent, [call("Plan", steps=[]), *REWOO], 3),
    "multi-agent": (build_multi_agent, TEAM, 4),
}


@pytest.mark.parametrize("pattern", sorted(BUILDERS))
def test_every_model_call_of_the_run_sees_the_recalled_memory_and_one_episode_is_kept(
    pattern: str, tmp_path: Path
) -> None:
    build, turns, calls = BUILDERS[pattern]
    memory = _memory(tmp_path)
    model = ScriptedChatModel(turns=turns)
    hook = _CountingHook(memory)
    object.__setattr__(hook, "recalls", [])
    spec = AgentSpec(model, [lookup], checkpointer=InMemorySaver(), memory=hook)
    config: Any = {"configurable": {"thread_id": f"t-{pattern}"}}
    state = build(spec).invoke({"messages": [HumanMessage(TASK)]}, config)
    assert state["messages"][-1].text == "Priya owns db-7."
    assert hook.recalls == [TASK]
    seen = _texts(model.seen)
    assert len(seen) == calls and all("Priya owns it" in text for text in seen)
    (episode,) = memory.store.list(MemoryFilter(kind=EPISODE))
    assert TASK in episode.text and "done" in episode.text
    assert episode.metadata.get("thread") == f"t-{pattern}"


def test_without_memory_the_prompts_are_unchanged(tmp_path: Path) -> None:
    with_memory = ScriptedChatModel(turns=list(PLAN_EXECUTE))
    plain = ScriptedChatModel(turns=list(PLAN_EXECUTE))
    hook = MemoryHook(AgentMemory.open(tmp_path, HashEmbeddings()))  # nothing to recall
    for model, memory in ((with_memory, hook), (plain, None)):
        spec = AgentSpec(model, [lookup], memory=memory)
        build_plan_execute_agent(spec).invoke({"messages": [HumanMessage(TASK)]})
    assert _texts(with_memory.seen) == _texts(plain.seen)


def test_a_failed_run_is_recorded_as_failed(tmp_path: Path) -> None:
    memory = _memory(tmp_path)
    model = ScriptedChatModel(turns=[call("Plan", steps=[])])  # an empty plan ends the run
    spec = AgentSpec(model, [lookup], memory=MemoryHook(memory))
    state = build_plan_execute_agent(spec).invoke({"messages": [HumanMessage(TASK)]})
    assert state["error"].startswith("the model could not produce a plan")
    (episode,) = memory.store.list(MemoryFilter(kind=EPISODE))
    assert "failed" in episode.text and "could not produce a plan" in episode.text


def test_reflexion_lessons_are_kept_and_recalled_by_a_later_run_of_a_similar_task(
    tmp_path: Path,
) -> None:
    memory = AgentMemory.open(tmp_path, HashEmbeddings())
    lesson = "Call lookup with the database name before answering."
    first = ScriptedChatModel(
        turns=[answer("Nobody"), call("Reflection", reflection=lesson), answer("Priya")]
    )
    spec = AgentSpec(first, [lookup], memory=MemoryHook(memory))
    state = build_reflexion_agent(spec, checker=expect_all("Priya")).invoke(
        {"messages": [HumanMessage(TASK)]}
    )
    assert report(state).extra["reflections"] == [lesson]
    (episode,) = memory.store.list(MemoryFilter(kind=EPISODE))
    assert f"Lesson: {lesson}" in episode.text

    later = ScriptedChatModel(turns=[answer("Priya")])
    spec = AgentSpec(later, [lookup], memory=MemoryHook(memory))
    build_reflexion_agent(spec, checker=expect_all("Priya")).invoke(
        {"messages": [HumanMessage("Who owns the staging database db-7 now?")]}
    )
    (first_trial,) = _texts(later.seen)
    assert lesson in first_trial  # the first trial already reads the earlier run's lesson
