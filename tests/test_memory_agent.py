"""Memory wired into the ReAct graph (scripted model: this tests the wiring, not the model):
recall into the prompt head, one episode per run, the memory tools."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.checkpoint.memory import InMemorySaver

from agentlab.graphs import AgentSpec, MemoryHook
from agentlab.graphs.react import build_react_agent
from agentlab.memory import EPISODE, RECALL_HEADING, AgentMemory, MemoryFilter, memory_tools
from agentlab.testing import HashEmbeddings, ScriptedChatModel, answer, call
from agentlab.tools import tool


@tool
def lookup(city: str) -> str:
    """Look up the weather of a city."""
    return f"sunny in {city}"


def _memory(path: Path) -> AgentMemory:
    return AgentMemory.open(path, HashEmbeddings())


def _heads(model: ScriptedChatModel) -> list[str]:
    """The recalled-memory system message of each model call ('' when there was none)."""
    return [next((m.text for m in seen if isinstance(m, SystemMessage)), "") for seen in model.seen]


def test_a_later_run_recalls_an_earlier_thread_in_its_head(tmp_path: Path) -> None:
    memory = _memory(tmp_path)
    first = ScriptedChatModel(turns=[answer("Noted: db-7, owned by Priya.")])
    agent = build_react_agent(
        AgentSpec(first, [], memory=MemoryHook(memory), checkpointer=InMemorySaver())
    )
    task = "Remember: the staging database is db-7 and Priya owns it"
    agent.invoke({"messages": [HumanMessage(task)]}, {"configurable": {"thread_id": "a"}})
    assert "Saved to memory as the user asked" in _heads(first)[0]

    episodes = memory.store.list(MemoryFilter(kind=EPISODE))
    assert len(episodes) == 1 and task in episodes[0].text and "Priya" in episodes[0].text

    second = ScriptedChatModel(turns=[call("lookup", city="Oslo"), answer("Priya owns it.")])
    spec = AgentSpec(second, [lookup], memory=MemoryHook(_memory(tmp_path)),
                     checkpointer=InMemorySaver())  # fmt: skip
    agent = build_react_agent(spec)
    agent.invoke(
        {"messages": [HumanMessage("Who owns the staging database?")]},
        {"configurable": {"thread_id": "b"}},
    )
    heads = _heads(second)
    assert heads[0].startswith(RECALL_HEADING)
    assert "- the staging database is db-7 and Priya owns it" in heads[0]  # the note
    assert f"- Task: {task}" in heads[0]  # and the episode
    assert heads[1] == heads[0]  # the same head on every step: the prefix cache keeps hitting
    assert len(memory.store.list(MemoryFilter(kind=EPISODE))) == 2


def test_unrelated_memories_stay_out_of_the_head(tmp_path: Path) -> None:
    memory = _memory(tmp_path)
    memory.store.add("The office plants are watered on Mondays", kind="note")
    model = ScriptedChatModel(turns=[answer("42")])
    agent = build_react_agent(AgentSpec(model, [], memory=MemoryHook(memory)))
    agent.invoke({"messages": [HumanMessage("What is six times seven?")]})
    assert _heads(model) == [""]


def test_the_recalled_block_is_bounded(tmp_path: Path) -> None:
    memory = _memory(tmp_path)
    for n in range(6):
        memory.store.add(f"deploy note {n}: " + "the deploy needs care " * 30, kind="note")
    model = ScriptedChatModel(turns=[answer("ok")])
    agent = build_react_agent(AgentSpec(model, [], memory=MemoryHook(memory, recall_tokens=120)))
    agent.invoke({"messages": [HumanMessage("how do I deploy?")]})
    head = _heads(model)[0]
    assert head.startswith(RECALL_HEADING) and model.get_num_tokens(head) <= 120


def test_a_failed_run_is_recorded_too(tmp_path: Path) -> None:
    memory = _memory(tmp_path)
    model = ScriptedChatModel(turns=[call("lookup", city="Oslo"), call("lookup", city="Rome")])
    agent = build_react_agent(AgentSpec(model, [lookup], memory=MemoryHook(memory), max_steps=2))
    agent.invoke({"messages": [HumanMessage("weather tour")]})
    (episode,) = memory.store.list(MemoryFilter(kind=EPISODE))
    assert episode.metadata["outcome"] == "failed" and "step limit" in episode.text


def test_memory_tools_write_and_read(tmp_path: Path) -> None:
    memory = _memory(tmp_path)
    remember, recall = memory_tools(memory)
    assert recall.invoke({"query": "VPN gateway"}) == "Nothing in memory matches."
    assert "Saved" in remember.invoke({"text": "The VPN gateway is vpn-2.example"})
    assert "vpn-2.example" in recall.invoke({"query": "VPN gateway"})


def test_an_explicit_request_to_remember_is_stored_whatever_the_model_does(
    tmp_path: Path,
) -> None:
    memory = _memory(tmp_path)
    model = ScriptedChatModel(turns=[answer("Paris is sunny.")])  # an off-topic answer
    agent = build_react_agent(AgentSpec(model, [], memory=MemoryHook(memory)))
    agent.invoke({"messages": [HumanMessage("Please remember that the VPN gateway is vpn-2.")]})
    (note,) = memory.store.list(MemoryFilter(kind="note"))
    assert note.text == "the VPN gateway is vpn-2."
    assert "Saved to memory as the user asked" in _heads(model)[0]
    model = ScriptedChatModel(turns=[answer("ok")])
    build_react_agent(AgentSpec(model, [], memory=MemoryHook(memory))).invoke(
        {"messages": [HumanMessage("Noted?")]}
    )
    assert memory.store.count(MemoryFilter(kind="note")) == 1  # "Noted?" asks nothing
    memory.note_request("Please remember that the VPN gateway is vpn-2.")
    assert memory.store.count(MemoryFilter(kind="note")) == 1  # asked twice, stored once


@pytest.mark.parametrize(
    ("task", "note"),
    [
        ("Remember: the gate code is 4411.", "the gate code is 4411."),
        ("please remember that my cat is Tom", "my cat is Tom"),
        ("Can you remember that the wiki moved to wiki2?", "the wiki moved to wiki2"),
        ("I want you to memorize this: Omar likes tea", "Omar likes tea"),
        ("Keep in mind - no deploys on Fridays", "no deploys on Fridays"),
        ("Do you remember my cat?", None),
        ("Remembering names is hard", None),
        ("What is 2 + 2?", None),
    ],
)
def test_which_tasks_ask_to_remember(tmp_path: Path, task: str, note: str | None) -> None:
    stored = _memory(tmp_path).note_request(task)
    assert (stored.text if stored else None) == note
