"""``agentlab.build_agent``: the agent the command line runs, from Python.

The scripted tests check the wiring the settings ask for (journal, statistics, checkpoints, in
SQLite files or in Postgres; budgets, options); the ``llm`` test runs the README's five-line
quickstart on the real model.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

import agentlab
from agentlab import UsageError, load_settings
from agentlab.graphs import PATTERNS, build_agent
from agentlab.testing import ScriptedChatModel, answer, call
from agentlab.tools import ToolStats

README = Path(__file__).resolve().parents[1] / "README.md"


def get_weather(city: str) -> str:
    """Current weather in a city.

    Args:
        city: the city's name
    """
    return f"{city}: 4 °C, light snow"


def _run(graph: Any, task: str, thread: str = "t") -> dict[str, Any]:
    config: Any = {"configurable": {"thread_id": thread}}
    result: dict[str, Any] = graph.invoke({"messages": [HumanMessage(task)]}, config)
    return result


def _select(where: Path | str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a SQLite file, or of a Postgres database (agentlab's schema, then LangGraph's)."""
    if isinstance(where, Path):
        with closing(sqlite3.connect(where)) as db:
            return db.execute(sql).fetchall()
    import psycopg

    with psycopg.connect(where) as db:
        db.execute("SET search_path TO agentlab_records, public")
        return db.execute(sql).fetchall()


def test_the_agent_has_the_settings_journal_statistics_and_checkpoints(
    tmp_path: Path, database: str | None
) -> None:
    settings = load_settings(home=tmp_path, memory=False, database_url=database)
    model = ScriptedChatModel(turns=[call("get_weather", city="Oslo"), answer("4 °C")])
    with ExitStack() as resources:
        agent = build_agent("react", [get_weather], settings=settings, model=model,
                            resources=resources)  # fmt: skip
        state = _run(agent, "Weather in Oslo?")
    assert state["messages"][-1].text == "4 °C"
    journaled = _select(database or settings.tool_db_path, "SELECT name, state, ok FROM tool_calls")
    assert journaled == [("get_weather", "done", 1)]
    stats = ToolStats(database or settings.tool_db_path)
    assert [(s.name, s.calls) for s in stats.summary()] == [("get_weather", 1)]
    stats.close()
    checkpoints = database or settings.checkpoint_path
    threads = _select(checkpoints, "SELECT DISTINCT thread_id FROM checkpoints")
    assert threads == [("t",)]
    written = settings.checkpoint_path.exists(), settings.tool_db_path.exists()
    assert written == ((True, True) if database is None else (False, False))


def test_budgets_and_step_limits_come_from_the_settings(tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, memory=False, max_tool_calls=1)
    turns = [call("get_weather", city="Oslo"), call("get_weather", city="Rome")]
    agent = build_agent("react", [get_weather], settings=settings, checkpointer=InMemorySaver(),
                        model=ScriptedChatModel(turns=turns))  # fmt: skip
    state = _run(agent, "Weather in Oslo and Rome?")
    assert state["error"].startswith("tool-call budget reached")


def test_tools_may_be_named_as_on_the_command_line(tmp_path: Path) -> None:
    model = ScriptedChatModel(turns=[call("calculator", expression="6*7"), answer("42")])
    agent = build_agent("react", "agentlab.tools.demo:TOOLS", model=model, checkpointer=None,
                        settings=load_settings(home=tmp_path, memory=False))  # fmt: skip
    state = agent.invoke({"messages": [HumanMessage("6*7?")]})
    assert state["messages"][-1].text == "42" and "42" in state["messages"][-2].text


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_every_pattern_builds_by_name(pattern: str, tmp_path: Path) -> None:
    settings = load_settings(home=tmp_path, memory=False)
    agent = build_agent(pattern, [get_weather], settings=settings,
                        model=ScriptedChatModel(turns=[]))  # fmt: skip
    assert agent.name == pattern


def test_an_unknown_pattern_or_option_is_a_usage_error_that_says_what_is_allowed(
    tmp_path: Path,
) -> None:
    settings = load_settings(home=tmp_path, memory=False)
    model = ScriptedChatModel(turns=[])
    with pytest.raises(UsageError, match="unknown pattern 'tree'; available: multi-agent"):
        build_agent("tree", [], settings=settings, model=model)
    with pytest.raises(UsageError, match="does not take max_trials; it takes max_plan_steps"):
        build_agent("plan-execute", [], settings=settings, model=model, max_trials=2)


def test_the_package_exports_build_agent() -> None:
    assert agentlab.build_agent is build_agent
    assert "build_agent" in agentlab.__all__
    with pytest.raises(AttributeError, match="no attribute 'build_agnet'"):
        _ = agentlab.build_agnet  # type: ignore[attr-defined]


@pytest.mark.llm
def test_the_readme_quickstart_runs_on_the_real_model(tmp_path: Path) -> None:
    quickstart = README.read_text().split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", quickstart, re.DOTALL)
    assert len([line for line in code.splitlines() if line.strip()]) == 5  # as README says
    script = tmp_path / "quickstart.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "4" in done.stdout  # the demo tool's Oslo reading, 4 °C
    home = Path(load_settings().home)
    assert (home / "checkpoints.sqlite").exists() and (home / "tools.sqlite").exists()
