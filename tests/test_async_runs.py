"""``ainvoke`` and ``astream`` end to end on a server backend (a real local HTTP server with
scripted turns): the model's turns are awaited with the async HTTP client, never in a thread;
one process has many conversations in flight at once, each on its own slot; checkpoints are
kept in the settings' store as with ``invoke``, and memory recalls and records as it does.
Every pattern awaits its model turns and sub-agents on the event loop, so runs overlap beyond
the worker threads, and none blocks the loop."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fake_server import answer as server_answer
from fake_server import llama_server, serving
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agentlab import build_agent
from agentlab.config import load_settings
from agentlab.graphs import AgentSpec, MemoryHook
from agentlab.graphs.react import build_react_agent
from agentlab.graphs.reflexion import expect_all
from agentlab.llm import HttpEngine, LlamaChatModel
from agentlab.llm._http_engine import slot_for
from agentlab.memory import EPISODE, AgentMemory, MemoryFilter
from agentlab.testing import HashEmbeddings, ScriptedChatModel, answer, call
from agentlab.tools import tool

SLOTS = 4


@tool
def owner(database: str) -> str:
    """Who owns a database."""
    return f"{database} is owned by Priya"


class ScriptedTurns:
    """``/completion`` replies that call ``owner`` and then answer from its observation, each
    after ``delay_s``; counts the requests in flight and records each one's prompt and slot."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = 0
        self.seen: list[tuple[str, int]] = []

    def __call__(self, body: dict[str, Any]) -> Any:
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self.seen.append((body["prompt"], body["id_slot"]))
        time.sleep(self.delay_s)
        with self.lock:
            self.in_flight -= 1
        if "Observation from owner:" in body["prompt"]:
            turn = {"thought": "The observation names the owner.", "answer": "Priya owns it."}
        else:
            database = body["prompt"].rsplit("Who owns ", 1)[1].split("?")[0]
            turn = {"thought": "Look it up.", "tool": "owner", "args": {"database": database}}
        return server_answer(json.dumps(turn), stream=bool(body.get("stream")))


def _no_threaded_turns(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a turn went through the thread-bound client")


def _config(thread_id: str) -> Any:
    return {"configurable": {"thread_id": thread_id}}


def _task(n: int) -> dict[str, Any]:
    return {"messages": [HumanMessage(f"Who owns db-{n}?")]}


def test_many_conversations_at_once_each_on_its_slot_with_checkpoints_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, turns = llama_server(slots=SLOTS), ScriptedTurns(delay_s=0.4)
    fake.routes["/completion"] = turns
    monkeypatch.setattr(HttpEngine, "complete", _no_threaded_turns)
    with serving(fake):
        settings = load_settings(home=tmp_path, memory=False, backend=fake.url)
        graph = build_agent("react", [owner], settings=settings)

        async def all_at_once() -> list[Any]:
            runs = (graph.ainvoke(_task(n), _config(f"thread-{n}")) for n in range(SLOTS))
            return await asyncio.gather(*runs)

        results = asyncio.run(all_at_once())
        saved = [graph.get_state(_config(f"thread-{n}")).values for n in range(SLOTS)]
    assert [r["messages"][-1].text for r in results] == ["Priya owns it."] * SLOTS
    for values in saved:  # written by the async path, read back by the sync one
        kinds = [type(m) for m in values["messages"]]
        assert kinds == [HumanMessage, AIMessage, ToolMessage, AIMessage]
    assert turns.most_in_flight >= 2  # conversations overlapped in one process
    assert len(turns.seen) == 2 * SLOTS
    for prompt, slot in turns.seen:
        n = int(prompt.rsplit("Who owns db-", 1)[1].split("?")[0])
        assert slot == slot_for(f"thread-{n}", SLOTS)


def test_astream_yields_each_node_as_it_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = llama_server(slots=2)
    fake.routes["/completion"] = ScriptedTurns()
    monkeypatch.setattr(HttpEngine, "complete", _no_threaded_turns)
    with serving(fake):
        settings = load_settings(home=tmp_path, memory=False, backend=fake.url)
        graph = build_agent("react", [owner], settings=settings)

        async def stream() -> list[dict[str, Any]]:
            return [u async for u in graph.astream(_task(7), _config("t"), stream_mode="updates")]

        updates = asyncio.run(stream())
    assert [next(iter(u)) for u in updates] == ["agent", "tools", "agent"]
    assert updates[1]["tools"]["messages"][0].text == "db-7 is owned by Priya"
    assert updates[-1]["agent"]["messages"][0].text == "Priya owns it."


def test_memory_recalls_and_records_on_async_runs(tmp_path: Path) -> None:
    fake = llama_server(slots=2)
    fake.routes["/completion"] = turns = ScriptedTurns()
    memory = AgentMemory.open(tmp_path, HashEmbeddings())
    memory.note_request("Remember: db-3 moved to the Oslo region")
    with serving(fake):
        model = LlamaChatModel(engine=HttpEngine(fake.url))
        spec = AgentSpec(model, [owner], checkpointer=InMemorySaver(), memory=MemoryHook(memory))
        state = asyncio.run(build_react_agent(spec).ainvoke(_task(3), _config("t-mem")))
    assert state["messages"][-1].text == "Priya owns it."
    assert all("db-3 moved to the Oslo region" in prompt for prompt, _ in turns.seen)
    (episode,) = memory.store.list(MemoryFilter(kind=EPISODE))
    assert "Who owns db-3?" in episode.text and episode.metadata.get("thread") == "t-mem"


FACT_TURNS = {  # pattern: scripted turns of a run that looks the owner up and answers
    "plan-execute": [
        call("Plan", steps=["Find the owner of db-1"]),
        call("owner", database="db-1"),
        answer("Priya"),
        call("Replan", answer="Priya owns it.", steps=[]),
    ],
    "rewoo": [
        call("Plan", steps=[{"id": "E1", "tool": "owner", "args": {"database": "db-1"}}]),
        call("Answer", answer="Priya owns it."),
    ],
    "multi-agent": [
        call(
            "TeamPlan",
            handoffs=[{"instruction": "Find the owner of db-1", "to": "researcher"}],
            answer="",
        ),
        call("owner", database="db-1"),
        answer("Priya"),
        call("Answer", answer="Priya owns it."),
    ],
    "reflexion": [call("owner", database="db-1"), answer("Priya owns it.")],
}


@pytest.mark.parametrize("pattern", sorted(FACT_TURNS))
def test_every_pattern_runs_with_ainvoke_on_the_settings_checkpoints(
    pattern: str, tmp_path: Path, database: str | None
) -> None:
    model = ScriptedChatModel(turns=FACT_TURNS[pattern])
    settings = load_settings(home=tmp_path, memory=False, database_url=database)
    options: dict[str, Any] = {"checker": expect_all("Priya")} if pattern == "reflexion" else {}
    graph = build_agent(pattern, [owner], settings=settings, model=model, **options)
    state = asyncio.run(graph.ainvoke(_task(1), _config(f"t-{pattern}")))
    assert state["messages"][-1].text == "Priya owns it."
    saved = graph.get_state(_config(f"t-{pattern}")).values
    assert saved["messages"][-1].text == "Priya owns it."


def test_react_turns_never_block_the_event_loop(tmp_path: Path) -> None:
    """What LangGraph's server checks (blockbuster): no file, database or socket call on the
    event loop's thread, with the settings' tool statistics, journal and SQLite checkpoints."""
    blockbuster = pytest.importorskip("blockbuster")
    fake = llama_server(slots=2)
    fake.routes["/completion"] = ScriptedTurns()
    with serving(fake):
        settings = load_settings(home=tmp_path, memory=False, backend=fake.url)
        graph = build_agent("react", [owner], settings=settings)
        with blockbuster.blockbuster_ctx():
            state = asyncio.run(graph.ainvoke(_task(5), _config("t-loop")))
    assert state["messages"][-1].text == "Priya owns it."


class AwaitedTurns(ScriptedChatModel):
    """Plan-execute's turns for "Who owns db-N?", chosen from what each call is shown and each
    awaited ``delay_s`` on the event loop; counts the turns in flight. A turn made through the
    thread-bound path fails."""

    delay_s: float = 0.2
    in_flight: int = 0
    most_in_flight: int = 0

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        raise AssertionError("a model turn held a thread")

    async def _agenerate(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> ChatResult:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(self.delay_s)
        self.in_flight -= 1
        schema = [tool["function"]["name"] for tool in kwargs.get("tools", [])]
        n = re.findall(r"db-(\d+)", "\n".join(m.text for m in messages))[0]
        if schema == ["Plan"]:
            turn = call("Plan", steps=[f"Find the owner of db-{n}"])
        elif schema == ["Replan"]:
            turn = call("Replan", answer=f"Priya owns db-{n}.", steps=[])
        elif isinstance(messages[-1], ToolMessage):
            turn = answer("Priya")
        else:
            turn = call("owner", database=f"db-{n}")
        for tool_call in turn.tool_calls:
            tool_call["id"] = f"call_{n}_{len(messages)}"
        return ChatResult(generations=[ChatGeneration(message=turn)])


def test_runs_overlap_beyond_the_worker_threads(tmp_path: Path) -> None:
    """Eight plan-execute runs (planner, a ReAct sub-agent per step, replanner) with one worker
    thread: their model turns are in flight together, as none holds the thread."""
    model = AwaitedTurns(turns=[])
    settings = load_settings(home=tmp_path, memory=False)
    graph = build_agent("plan-execute", [owner], settings=settings, model=model)

    async def all_at_once() -> list[Any]:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=1))
        runs = (graph.ainvoke(_task(n), _config(f"pe-{n}")) for n in range(8))
        return await asyncio.gather(*runs)

    results = asyncio.run(all_at_once())
    assert [r["messages"][-1].text for r in results] == [f"Priya owns db-{n}." for n in range(8)]
    assert model.most_in_flight >= 6


class AwaitedScript(ScriptedChatModel):
    """A scripted model whose turns can only be awaited."""

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        raise AssertionError("a model turn held a thread")

    async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
        return super()._generate(*args, **kwargs)


@pytest.mark.parametrize("pattern", sorted(FACT_TURNS))
def test_every_pattern_awaits_its_turns_and_never_blocks_the_event_loop(
    pattern: str, tmp_path: Path
) -> None:
    blockbuster = pytest.importorskip("blockbuster")
    model = AwaitedScript(turns=FACT_TURNS[pattern])
    settings = load_settings(home=tmp_path, memory=False)
    options: dict[str, Any] = {"checker": expect_all("Priya")} if pattern == "reflexion" else {}
    graph = build_agent(pattern, [owner], settings=settings, model=model, **options)
    with blockbuster.blockbuster_ctx():
        state = asyncio.run(graph.ainvoke(_task(1), _config(f"t-loop-{pattern}")))
    assert state["messages"][-1].text == "Priya owns it."
    assert len(model.seen) == len(FACT_TURNS[pattern])


TRANSFERRED: list[str] = []


@tool(side_effects="acting")
def transfer(database: str) -> str:
    """Transfer a database to Priya."""
    TRANSFERRED.append(database)
    return f"{database} now belongs to Priya"


HELD_TURNS = {  # pattern: a run whose tool call waits for approval inside a sub-agent
    "plan-execute": [
        call("Plan", steps=["Transfer db-1"]),
        call("transfer", database="db-1"),
        answer("Transferred."),
        call("Replan", answer="db-1 is Priya's now.", steps=[]),
    ],
    "multi-agent": [
        call(
            "TeamPlan", handoffs=[{"instruction": "Transfer db-1", "to": "researcher"}], answer=""
        ),
        call("transfer", database="db-1"),
        answer("Transferred."),
        call("Answer", answer="db-1 is Priya's now."),
    ],
}


@pytest.mark.parametrize("pattern", sorted(HELD_TURNS))
def test_an_approval_inside_a_sub_agent_interrupts_and_resumes_with_ainvoke(
    pattern: str, tmp_path: Path
) -> None:
    TRANSFERRED.clear()
    model = AwaitedScript(turns=HELD_TURNS[pattern])
    settings = load_settings(home=tmp_path, memory=False)
    graph = build_agent(pattern, [transfer], settings=settings, model=model)
    config = _config(f"t-held-{pattern}")

    async def held_then_approved() -> tuple[dict[str, Any], dict[str, Any]]:
        held = await graph.ainvoke({"messages": [HumanMessage("Transfer db-1")]}, config)
        return held, await graph.ainvoke(Command(resume="approve"), config)

    held, final = asyncio.run(held_then_approved())
    assert held["__interrupt__"][0].value["name"] == "transfer"
    assert TRANSFERRED == ["db-1"] and final["messages"][-1].text == "db-1 is Priya's now."
    assert len(model.seen) == len(HELD_TURNS[pattern])  # nothing before the interrupt ran twice
