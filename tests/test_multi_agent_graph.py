"""Graph logic of the multi-agent supervisor, with a scripted model (no real model involved)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_snapshot
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import Field

from agentlab.errors import UsageError
from agentlab.graphs import AgentSpec
from agentlab.graphs.multi_agent import (
    Specialist,
    build_multi_agent,
    default_team,
    report,
    route_model,
    team_from_config,
)
from agentlab.testing import ScriptedChatModel, answer, call
from agentlab.tools import tool
from agentlab.tools.demo import TOOLS

CONFIG: Any = {"configurable": {"thread_id": "t"}}
TASK = "Look up the founding year of Norwind Labs and compute how many years ago that was."

SPEC_FIELDS = {f.name for f in fields(AgentSpec)}


def route(next: str, instruction: str = "", answer: str = "") -> AIMessage:
    """A scripted supervisor turn. ``with_structured_output`` binds the ``Route`` schema (made
    with ``pydantic.create_model("Route", ...)``) as a tool named after the model class, so the
    supervisor's decision is a call of the tool ``"Route"`` with all three fields."""
    return call("Route", next=next, instruction=instruction, answer=answer)


class RecordingModel(ScriptedChatModel):
    """Also records the tool names of every binding, in order."""

    bindings: list[list[str]] = Field(default_factory=list)

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        bound = super().bind_tools(tools, tool_choice=tool_choice, **kwargs)
        self.bindings.append(list(self.bound_tools))
        return bound


def run(model: ScriptedChatModel, task: str = TASK, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
    parts = {k: kwargs.pop(k) for k in SPEC_FIELDS if k in kwargs}  # the rest: the pattern's
    graph = build_multi_agent(
        AgentSpec(model, TOOLS, checkpointer=InMemorySaver(), **parts), **kwargs
    )
    return graph, graph.invoke({"messages": [HumanMessage(task)]}, CONFIG)


LOOKUP_AND_COMPUTE = [
    route("researcher", "Look up Norwind Labs"),
    call("lookup", query="Norwind Labs"),
    answer("Norwind Labs was founded in 1998."),
    route("analyst", "Compute 2026 - 1998"),
    call("calculator", expression="2026 - 1998"),
    answer("28"),
]


# -- the team ----------------------------------------------------------------------------------


def test_default_team_gives_lookups_to_the_researcher_and_arithmetic_to_the_analyst() -> None:
    team = {member.name: [t.name for t in member.tools] for member in default_team(TOOLS)}
    assert team == {
        "researcher": ["lookup", "get_weather"],
        "analyst": ["calculator", "convert_units"],
    }
    lookups_only = default_team([t for t in TOOLS if t.name in ("lookup", "get_weather")])
    assert [member.name for member in lookups_only] == ["researcher"]
    assert default_team([]) == []
    with pytest.raises(UsageError, match="the team is empty"):
        build_multi_agent(AgentSpec(ScriptedChatModel(turns=[]), []))


def test_a_team_must_have_distinct_valid_names() -> None:
    lookup = next(t for t in TOOLS if t.name == "lookup")
    twin = [Specialist("a", "x", "p", (lookup,)), Specialist("a", "y", "p", (lookup,))]
    with pytest.raises(UsageError, match="duplicate specialist name 'a'"):
        build_multi_agent(AgentSpec(ScriptedChatModel(turns=[]), TOOLS), team=twin)
    with pytest.raises(UsageError, match="empty name"):
        build_multi_agent(
            AgentSpec(ScriptedChatModel(turns=[]), TOOLS), team=[Specialist("", "x", "p", ())]
        )
    with pytest.raises(UsageError, match="invalid specialist name 'FINISH'"):
        build_multi_agent(
            AgentSpec(ScriptedChatModel(turns=[]), TOOLS), team=[Specialist("FINISH", "", "", ())]
        )


def test_the_route_schema_is_a_tool_named_route_restricted_to_the_team() -> None:
    schema = convert_to_openai_tool(route_model(["researcher", "analyst"]))["function"]
    assert schema["name"] == "Route"
    assert schema["parameters"]["properties"]["next"]["enum"] == ["researcher", "analyst", "FINISH"]
    # in this order under the grammar: what is still to be done, then who does it
    assert schema["parameters"]["required"] == ["instruction", "next", "answer"]
    assert list(schema["parameters"]["properties"]) == ["instruction", "next", "answer"]
    model = ScriptedChatModel(turns=[])
    build_multi_agent(AgentSpec(model, TOOLS))
    assert model.bound_tools == ["Route"]  # the supervisor's structured output


TEAM = {
    "specialists": [
        {"name": "finder", "description": "finds facts", "tools": ["lookup"]},
        {"name": "calc", "description": "does sums", "prompt": "Sum it.", "tools": ["calculator"]},
    ]
}


def _check_config_team(team: list[Specialist]) -> None:
    assert [(m.name, [t.name for t in m.tools]) for m in team] == [
        ("finder", ["lookup"]),
        ("calc", ["calculator"]),
    ]
    assert team[1].prompt == "Sum it."
    assert "finder" in team[0].prompt and "finds facts" in team[0].prompt  # the default prompt


def test_a_team_loads_from_a_mapping_a_json_file_and_a_toml_file(tmp_path: Path) -> None:
    _check_config_team(team_from_config(TEAM, TOOLS))
    as_json = tmp_path / "team.json"
    as_json.write_text(json.dumps(TEAM))
    _check_config_team(team_from_config(as_json, TOOLS))
    as_toml = tmp_path / "team.toml"
    as_toml.write_text(
        '[[specialists]]\nname = "finder"\ndescription = "finds facts"\ntools = ["lookup"]\n'
        '[[specialists]]\nname = "calc"\ndescription = "does sums"\nprompt = "Sum it."\n'
        'tools = ["calculator"]\n'
    )
    _check_config_team(team_from_config(as_toml, TOOLS))


def _member(**fields: Any) -> dict[str, Any]:
    return {"name": "finder", "description": "finds facts", "tools": ["lookup"], **fields}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"specialists": [_member(tools=["search_web"])]}, "unknown tools \\['search_web'\\]"),
        ({"specialists": [_member(), _member()]}, "duplicate specialist name 'finder'"),
        ({"specialists": [_member(name="")]}, "empty name"),
        ({"specialists": [_member(name="two words")]}, "invalid specialist name 'two words'"),
        ({"specialists": [_member(tool=["lookup"])]}, "specialists.0.tool"),
        ({"specialists": []}, "specialists: List should have at least 1 item"),
        ({"team": []}, "specialists: Field required"),
    ],
)
def test_a_bad_team_config_names_the_problem(config: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        team_from_config(config, TOOLS)


def test_a_bad_team_file_names_the_file_and_the_problem(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"missing\.toml' cannot be read"):
        team_from_config(tmp_path / "missing.toml", TOOLS)
    broken = tmp_path / "team.json"
    broken.write_text("{not json")
    with pytest.raises(UsageError, match=r"team\.json' is not valid json"):
        team_from_config(broken, TOOLS)
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    with pytest.raises(UsageError, match="expected an object"):
        team_from_config(listed, TOOLS)
    with pytest.raises(UsageError, match=r"use a \.json or \.toml file"):
        team_from_config(tmp_path / "team.yaml", TOOLS)


# -- routing -----------------------------------------------------------------------------------


def test_the_supervisor_routes_to_specialists_with_their_own_tools_and_finishes() -> None:
    model = RecordingModel(turns=[*LOOKUP_AND_COMPUTE, route("FINISH", answer="28 years ago")])
    _, state = run(model)
    assert model.bindings == [
        ["Route"],
        ["lookup", "get_weather"],  # the researcher's first turn
        ["calculator", "convert_units"],  # the analyst's
    ]
    final = state["messages"][-1]
    assert isinstance(final, AIMessage) and not final.tool_calls
    assert final.text == "28 years ago" and final.name == "supervisor"
    assert state["route"] == ["researcher", "analyst"]
    assert report(state).extra == {
        "route": ["researcher", "analyst"],
        "reports": {"researcher": "Norwind Labs was founded in 1998.", "analyst": "28"},
    }
    assert state.get("error") is None
    # the lookup's result reached the researcher, whose report reached the supervisor
    assert "founded in 1998" in model.seen[2][-1].text
    assert isinstance(model.seen[2][-1], ToolMessage)
    roster = model.seen[0][0].text  # the supervisor knows who holds which tools
    assert "- researcher: looks facts up (tools: lookup, get_weather)" in roster
    assert "- analyst: computes and converts numbers (tools: calculator, convert_units)" in roster
    supervisor_view = model.seen[3][-1].text
    assert "Look up Norwind Labs" in supervisor_view
    assert "Norwind Labs was founded in 1998." in supervisor_view
    analyst_brief = model.seen[4][-1].text
    assert analyst_brief.startswith("Compute 2026 - 1998") and "founded in 1998" in analyst_brief
    # the specialists' tool turns are in the shared transcript, named after them
    calls = [(m.name, m.tool_calls[0]["name"]) for m in state["messages"] if m.type == "ai"
             and m.tool_calls]  # fmt: skip
    assert calls == [("researcher", "lookup"), ("analyst", "calculator")]
    results = [m.text for m in state["messages"] if isinstance(m, ToolMessage)]
    assert results[1] == "28"


def test_a_specialist_cannot_run_another_specialists_tool() -> None:
    turns = [
        route("analyst", "Find Norwind Labs"),
        call("lookup", query="Norwind Labs"),
        answer("I cannot look that up."),
        route("FINISH"),
    ]
    model = ScriptedChatModel(turns=turns)
    _, state = run(model)
    reply = model.seen[2][-1]
    assert isinstance(reply, ToolMessage) and reply.status == "error"
    assert "unknown tool 'lookup'" in reply.text
    assert state["messages"][-1].text == "I cannot look that up."  # FINISH without an answer


def test_a_revisited_specialist_and_a_new_run_start_fresh() -> None:
    turns = [
        route("researcher", "Look up Norwind Labs"),
        answer("Founded in 1998."),
        route("researcher", "Look up Zephyr Dynamics"),
        answer("Founded in 2011."),
        route("FINISH", answer="1998 and 2011"),
    ]
    model = ScriptedChatModel(turns=turns)
    graph, state = run(model)
    second_visit = model.seen[3]
    assert [m.type for m in second_visit] == ["system", "human"]
    assert second_visit[-1].text.startswith("Look up Zephyr Dynamics")
    assert "- researcher: Founded in 1998." in second_visit[-1].text
    assert state["route"] == ["researcher", "researcher"]
    model.turns += [route("analyst", "Compute 2026 - 2011"), answer("15"), route("FINISH")]
    state = graph.invoke({"messages": [HumanMessage("And Zephyr's age?")]}, CONFIG)
    assert state["route"] == ["analyst"]
    assert report(state).extra == {"route": ["analyst"], "reports": {"analyst": "15"}}
    assert "Reports so far:\nnone yet" in model.seen[5][-1].text
    assert state["messages"][-1].text == "15"


# -- limits and protection ---------------------------------------------------------------------


def test_the_route_limit_ends_the_run_with_an_error() -> None:
    turns = [*LOOKUP_AND_COMPUTE, route("researcher", "Look up Zephyr Dynamics")]
    model = ScriptedChatModel(turns=turns)
    _, state = run(model, max_routes=2)
    assert "route limit reached: 2" in str(state["error"])
    assert state["route"] == ["researcher", "analyst"]
    assert len(model.seen) == len(turns)  # the third hand-off did not run
    assert state["messages"][-1].name == "analyst"  # no answer was made up


def test_the_same_instruction_twice_forces_a_finish_with_the_latest_report() -> None:
    turns = [
        route("researcher", "Look up Norwind Labs"),
        answer("Founded in 1998."),
        route("researcher", "look up  Norwind labs."),  # the same, but for case and spacing
    ]
    model = ScriptedChatModel(turns=turns)
    _, state = run(model)
    assert len(model.seen) == 3  # the researcher did not run again
    final = state["messages"][-1]
    assert final.name == "supervisor" and final.text == "Founded in 1998."
    assert "same instruction twice" in report(state).extra["forced_finish"]
    assert state["route"] == ["researcher"] and state.get("error") is None


def test_a_ping_pong_between_two_specialists_forces_a_finish() -> None:
    turns = [
        route("researcher", "Look up Norwind Labs"), answer("1998"),
        route("analyst", "Compute 2026 - 1998"), answer("28"),
        route("researcher", "Check the founding year again"), answer("1998, confirmed"),
        route("analyst", "Compute 2026 minus 1998 once more"), answer("28, confirmed"),
        route("researcher", "Verify Norwind Labs once more"),
    ]  # fmt: skip
    model = ScriptedChatModel(turns=turns)
    _, state = run(model, max_routes=10)
    assert len(model.seen) == len(turns)  # the fifth alternating hand-off did not run
    assert state["route"] == ["researcher", "analyst", "researcher", "analyst"]
    assert state["messages"][-1].text == "28, confirmed"
    assert "bouncing between researcher and analyst" in report(state).extra["forced_finish"]


def test_an_unknown_specialist_ends_the_run_with_an_error_naming_it() -> None:
    model = ScriptedChatModel(turns=[route("nobody", "do something")])
    _, state = run(model)  # no exception escapes
    assert "unknown specialist 'nobody'" in str(state["error"])
    assert "researcher, analyst" in str(state["error"])
    assert state["route"] == []
    model = ScriptedChatModel(turns=[answer("I would ask the researcher.")])
    _, state = run(model)
    assert "no valid route" in str(state["error"])


def test_a_specialist_without_an_answer_ends_the_run_with_its_error() -> None:
    turns = [route("researcher", "Look up Norwind Labs"), call("lookup", query="Norwind Labs")]
    _, state = run(ScriptedChatModel(turns=turns), max_steps=1)
    assert str(state["error"]).startswith("researcher: step limit reached: 1")
    assert state["route"] == ["researcher"]


# -- approval ----------------------------------------------------------------------------------

SENT: list[str] = []


@tool(side_effects="acting")
def send_email(to: str, body: str) -> str:
    """Send an email."""
    SENT.append(to)
    return f"sent to {to}"


@tool
def find_address(name: str) -> str:
    """Find the email address of a person."""
    return f"{name}: ann@x.org"


def test_an_approval_inside_a_specialist_pauses_the_run_and_resumes_there() -> None:
    SENT.clear()
    mailer = Specialist("mailer", "sends email", "You send email.", (send_email,))
    finder = Specialist("finder", "finds addresses", "You find addresses.", (find_address,))
    turns = [
        route("finder", "Find Ann's address"), call("find_address", name="Ann"),
        answer("ann@x.org"),
        route("mailer", "Mail ann@x.org: hi"), call("send_email", to="ann@x.org", body="hi"),
        answer("sent to ann@x.org"),
        route("FINISH", answer="Ann was mailed."),
    ]  # fmt: skip
    model = ScriptedChatModel(turns=turns)
    graph = build_multi_agent(
        AgentSpec(model, [send_email, find_address], checkpointer=InMemorySaver()),
        team=[finder, mailer],
    )
    state = graph.invoke({"messages": [HumanMessage("mail Ann")]}, CONFIG)
    (pending,) = state["__interrupt__"]
    assert pending.value["name"] == "send_email" and pending.value["args"]["to"] == "ann@x.org"
    assert SENT == []
    paused = graph.get_state(CONFIG)
    assert paused.next == ("mailer",) and paused.interrupts[0].value["name"] == "send_email"
    final = graph.invoke(Command(resume="approve"), CONFIG)
    assert SENT == ["ann@x.org"]
    assert len(model.seen) == len(turns)  # nothing before the interrupt ran twice
    assert final["messages"][-1].text == "Ann was mailed."
    assert final["route"] == ["finder", "mailer"] and final.get("error") is None


# -- shape -------------------------------------------------------------------------------------


def test_graph_shape_is_pinned() -> None:
    graph = build_multi_agent(AgentSpec(ScriptedChatModel(turns=[]), TOOLS))
    drawn = graph.get_graph().draw_mermaid()
    assert_snapshot(drawn, "multi_agent.mmd")
