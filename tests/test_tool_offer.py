"""The cost-aware tool offer: order, labels and the circuit breaker, over real SQLite stats."""

from __future__ import annotations

from pathlib import Path

from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from agentlab.graphs import AgentSpec
from agentlab.graphs.react import build_react_agent
from agentlab.testing import ScriptedChatModel, answer, call
from agentlab.tools import ToolOffer, ToolRunner, ToolStats, tool


@tool(cost=5.0)
def search_premium(q: str) -> str:
    """Search the web."""
    return "premium result"


@tool(cost=0.5)
def search_basic(q: str) -> str:
    """Search the web."""
    raise ConnectionError("down")


@tool(cost=1.0)
def search_mirror(q: str) -> str:
    """Search the web."""
    return "mirror result"


TOOLS = [search_premium, search_basic, search_mirror]


def test_cheaper_tools_come_first_and_are_labelled(tmp_path: Path) -> None:
    offered = ToolOffer(ToolStats(tmp_path / "s.sqlite"))(TOOLS)
    assert [t.name for t in offered] == ["search_basic", "search_mirror", "search_premium"]
    labels = [t.description.split("]")[0] for t in offered]
    assert labels == ["[cheap", "[cheap", "[expensive"]
    assert search_premium.description == "Search the web."  # the original is untouched


def test_a_failing_tool_is_withheld_until_its_cooldown_ends(tmp_path: Path) -> None:
    now = [1000.0]
    stats = ToolStats(tmp_path / "s.sqlite", clock=lambda: now[0])
    runner = ToolRunner(TOOLS, stats=stats, sleep=lambda s: None)
    reply = runner.run({"name": "search_basic", "args": {"q": "x"}, "id": "1"})
    assert reply.status == "error"  # three attempts (two retries), all failed
    offer = ToolOffer(stats, cooldown_s=60)
    assert "search_basic" not in [t.name for t in offer(TOOLS)]
    now[0] += 61
    back = offer(TOOLS)
    assert back[0].name == "search_mirror" and "search_basic" in [t.name for t in back]
    assert "failing lately" in next(t for t in back if t.name == "search_basic").description


def test_the_model_is_only_offered_what_the_breaker_allows(tmp_path: Path) -> None:
    stats = ToolStats(tmp_path / "s.sqlite")
    for _ in range(3):
        stats.record("search_basic", ms=5, ok=False, cost=0.5, error="down")
    model = ScriptedChatModel(turns=[call("search_mirror", q="x"), answer("found")])
    graph = build_react_agent(
        AgentSpec(model, TOOLS, checkpointer=InMemorySaver(), offer=ToolOffer(stats))
    )
    graph.invoke({"messages": [HumanMessage("find x")]}, {"configurable": {"thread_id": "o"}})
    assert model.bound_tools == ["search_mirror", "search_premium"]


@tool(cost=4.0, job="weather")
def weather_live(city: str) -> str:
    """Weather from the live service."""
    return "live"


@tool(cost=0.1, job="weather")
def weather_cached(city: str) -> str:
    """Weather from the hourly report."""
    return "cached"


def test_of_tools_doing_the_same_job_only_the_best_is_offered(tmp_path: Path) -> None:
    stats = ToolStats(tmp_path / "s.sqlite")
    offer = ToolOffer(stats)
    assert [t.name for t in offer([weather_live, weather_cached])] == ["weather_cached"]
    for _ in range(3):
        stats.record("weather_cached", ms=5, ok=False, cost=0.1, error="down")
    assert [t.name for t in offer([weather_live, weather_cached])] == ["weather_live"]


@tool
def city_info(city: str) -> str:
    """Facts about a city."""
    return {"oslo": "capital of Norway"}[city.lower()]


def test_failures_caused_by_the_input_do_not_open_the_breaker(tmp_path: Path) -> None:
    stats = ToolStats(tmp_path / "s.sqlite")
    runner = ToolRunner([city_info], stats=stats)
    for city in ("Atlantis", "El Dorado", "Shangri-La"):
        assert (
            runner.run({"name": "city_info", "args": {"city": city}, "id": city}).status == "error"
        )
    assert not stats.is_open("city_info")
    assert stats.summary()[0].failures == 3  # still counted in the statistics
