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
    plan_model,
    report,
    team_from_config,
)
from agentlab.testing import ScriptedChatModel, answer, call
from agentlab.tools import tool
from agentlab.tools.demo import TOOLS

CONFIG: Any = {"configurable": {"thread_id": "t"}}
TASK = "Look up the founding year of Norwind Labs and compute how many years ago that was."

SPEC_FIELDS = {f.name for f in fields(AgentSpec)}


def plan(*handoffs: tuple[str, str], answer: str = "") -> AIMessage:
    """A scripted supervisor plan: (specialist, instruction) pairs. ``with_structured_output``
    binds the ``TeamPlan`` schema (made with ``pydantic.create_model("TeamPlan", ...)``) as a
    tool named after the model class, so the plan is a call of the tool ``"TeamPlan"``."""
    listed = [{"instruction": instruction, "to": to} for to, instruction in handoffs]
    return call("TeamPlan", handoffs=listed, answer=answer)


def solve(text: str) -> AIMessage:
    """The supervisor's answer from the reports: a call of the structured output ``Answer``."""
    return call("Answer", answer=text)


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
    plan(("researcher", "Look up Norwind Labs"), ("analyst", "Compute 2026 - 1998")),
    call("lookup", query="Norwind Labs"),
    answer("Norwind Labs was founded in 1998."),
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
    with pytest.raises(UsageError, match="invalid specialist name 'nobody'"):
        build_multi_agent(
            AgentSpec(ScriptedChatModel(turns=[]), TOOLS), team=[Specialist("nobody", "", "", ())]
        )
    with pytest.raises(UsageError, match="invalid specialist name 'supervisor'"):
        build_multi_agent(
            AgentSpec(ScriptedChatModel(turns=[]), TOOLS),
            team=[Specialist("supervisor", "", "", ())],
        )
    with pytest.raises(UsageError, match="max_routes must be at least 1, got 0"):
        build_multi_agent(AgentSpec(ScriptedChatModel(turns=[]), TOOLS), max_routes=0)


def test_the_plan_schema_is_a_tool_named_teamplan_restricted_to_the_team() -> None:
    schema = convert_to_openai_tool(plan_model(["researcher", "analyst"], 3))["function"]
    assert schema["name"] == "TeamPlan"
    assert list(schema["parameters"]["properties"]) == ["handoffs", "answer"]
    handoffs = schema["parameters"]["properties"]["handoffs"]
    assert handoffs["maxItems"] == 3
    handoff = handoffs["items"]  # inlined by the conversion to a tool
    assert handoffs["minItems"] == 1
    assert handoff["properties"]["to"]["enum"] == ["researcher", "analyst", "nobody"]
    # in this order under the grammar: what is to be done, then who does it
    assert list(handoff["properties"]) == ["instruction", "to"]
    model = RecordingModel(turns=[])
    build_multi_agent(AgentSpec(model, TOOLS))
    assert model.bindings == [["TeamPlan"], ["Answer"]]  # the supervisor's structured outputs


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


def test_the_supervisor_plans_hands_off_in_order_and_answers_from_every_report() -> None:
    model = RecordingModel(turns=[*LOOKUP_AND_COMPUTE, solve("Founded in 1998, 28 years ago")])
    _, state = run(model)
    assert model.bindings[:2] == [["TeamPlan"], ["Answer"]]  # the supervisor's two outputs
    assert model.bindings[2:] == [
        ["lookup", "get_weather"],  # the researcher's first turn
        ["calculator", "convert_units"],  # the analyst's
    ]
    final = state["messages"][-1]
    assert isinstance(final, AIMessage) and not final.tool_calls
    assert final.text == "Founded in 1998, 28 years ago" and final.name == "supervisor"
    assert state["route"] == ["researcher", "analyst"]
    assert report(state).extra == {
        "route": ["researcher", "analyst"],
        "reports": {"researcher": "Norwind Labs was founded in 1998.", "analyst": "28"},
    }
    assert state.get("error") is None
    assert len(model.seen) == 6  # the plan, two turns per specialist, the answer: no routing calls
    planning = model.seen[0]
    assert planning[-1].text == f"Task: {TASK}"
    roster = planning[0].text  # the supervisor knows who holds which tools
    assert "- researcher: looks facts up (tools: lookup, get_weather)" in roster
    assert "- analyst: computes and converts numbers (tools: calculator, convert_units)" in roster
    # the lookup's result reached the researcher, whose report reached the analyst
    assert "founded in 1998" in model.seen[2][-1].text
    assert isinstance(model.seen[2][-1], ToolMessage)
    analyst_brief = model.seen[3][-1].text
    assert analyst_brief == (  # its own part, then what the team found
        "Compute 2026 - 1998\n\nWhat the team found so far:\n"
        "- researcher: Norwind Labs was founded in 1998."
    )
    assert TASK not in analyst_brief  # the instruction, not the parts meant for others
    answering = model.seen[5][-1].text  # the task and every report, with what each was asked
    assert answering.startswith(f"Task: {TASK}")
    assert "[1] researcher (asked: Look up Norwind Labs): Norwind Labs was founded in 1998." in (
        answering
    )
    assert "[2] analyst (asked: Compute 2026 - 1998): 28" in answering
    # the specialists' tool turns are in the shared transcript, named after them
    calls = [(m.name, m.tool_calls[0]["name"]) for m in state["messages"] if m.type == "ai"
             and m.tool_calls]  # fmt: skip
    assert calls == [("researcher", "lookup"), ("analyst", "calculator")]
    results = [m.text for m in state["messages"] if isinstance(m, ToolMessage)]
    assert results[1] == "28"


def test_a_task_handed_to_nobody_is_answered_by_the_plan() -> None:
    model = ScriptedChatModel(
        turns=[plan(("nobody", "Say thank you in Italian"), answer="Grazie.")]
    )
    _, state = run(model, task="Say thank you in Italian.")
    assert state["messages"][-1].text == "Grazie." and state["messages"][-1].name == "supervisor"
    assert state["route"] == [] and state.get("error") is None and len(model.seen) == 1
    _, state = run(ScriptedChatModel(turns=[plan(("nobody", "Answer it"))]))
    assert "planned no hand-off and no answer" in str(state["error"])
    _, state = run(ScriptedChatModel(turns=[plan(answer="Grazie.")]))  # a plan needs a hand-off
    assert "no valid plan" in str(state["error"])


def test_a_plan_mixing_nobody_and_a_specialist_hands_off_to_the_specialist() -> None:
    turns = [
        plan(("nobody", "Greet the user"), ("researcher", "Look up Norwind Labs")),
        answer("Founded in 1998."),
        solve("Hello! Norwind Labs was founded in 1998."),
    ]
    _, state = run(ScriptedChatModel(turns=turns))
    assert state["route"] == ["researcher"]
    assert state["messages"][-1].text == "Hello! Norwind Labs was founded in 1998."


def test_a_specialist_cannot_run_another_specialists_tool() -> None:
    turns = [
        plan(("analyst", "Find Norwind Labs")),
        call("lookup", query="Norwind Labs"),
        answer("I cannot look that up."),
        solve(""),
    ]
    model = ScriptedChatModel(turns=turns)
    _, state = run(model)
    reply = model.seen[2][-1]
    assert isinstance(reply, ToolMessage) and reply.status == "error"
    assert "unknown tool 'lookup'" in reply.text
    assert state["messages"][-1].text == "I cannot look that up."  # no answer: the last report


def test_a_revisited_specialist_and_a_new_run_start_fresh() -> None:
    turns = [
        plan(("researcher", "Look up Norwind Labs"), ("researcher", "Look up Zephyr Dynamics")),
        answer("Founded in 1998."),
        answer("Founded in 2011."),
        solve("1998 and 2011"),
    ]
    model = ScriptedChatModel(turns=turns)
    graph, state = run(model)
    second_visit = model.seen[2]
    assert [m.type for m in second_visit] == ["system", "human"]
    assert second_visit[-1].text.startswith("Look up Zephyr Dynamics")
    assert "- researcher: Founded in 1998." in second_visit[-1].text
    assert state["route"] == ["researcher", "researcher"]
    model.turns += [plan(("analyst", "Compute 2026 - 2011")), answer("15"), solve("15 years")]
    state = graph.invoke({"messages": [HumanMessage("And Zephyr's age?")]}, CONFIG)
    assert state["route"] == ["analyst"]
    assert report(state).extra == {"route": ["analyst"], "reports": {"analyst": "15"}}
    assert model.seen[4][-1].text == "Task: And Zephyr's age?"  # planned anew
    assert model.seen[5][-1].text == "Compute 2026 - 2011"  # no report of the earlier run
    assert "Founded" not in model.seen[6][-1].text
    assert state["messages"][-1].text == "15 years"


# -- limits ------------------------------------------------------------------------------------


def test_a_repeated_hand_off_is_made_once() -> None:
    turns = [
        plan(("researcher", "Look up Norwind Labs"), ("researcher", "look up  Norwind labs.")),
        answer("Founded in 1998."),
        solve("1998"),
    ]
    model = ScriptedChatModel(turns=turns)
    _, state = run(model)
    assert len(model.seen) == 3  # the researcher ran once
    assert state["route"] == ["researcher"] and state["messages"][-1].text == "1998"


def test_a_plan_longer_than_the_route_limit_ends_the_run_with_an_error() -> None:
    handoffs = [("researcher", f"Look up company {n}") for n in range(3)]
    model = ScriptedChatModel(turns=[plan(*handoffs)])
    _, state = run(model, max_routes=2)
    assert "planned 3 hand-offs, more than max_routes=2" in str(state["error"])
    assert state["route"] == [] and len(model.seen) == 1  # no specialist ran


def test_an_unknown_specialist_ends_the_run_with_an_error_naming_it() -> None:
    model = ScriptedChatModel(turns=[plan(("somebody", "do something"))])
    _, state = run(model)  # no exception escapes
    assert "unknown specialist 'somebody'" in str(state["error"])
    assert "researcher, analyst" in str(state["error"])
    assert state["route"] == []
    model = ScriptedChatModel(turns=[answer("I would ask the researcher.")])
    _, state = run(model)
    assert "no valid plan" in str(state["error"])


def test_a_specialist_without_an_answer_ends_the_run_with_its_error() -> None:
    turns = [plan(("researcher", "Look up Norwind Labs")), call("lookup", query="Norwind Labs")]
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
        plan(("finder", "Find Ann's address"), ("mailer", "Mail Ann the address found: hi")),
        call("find_address", name="Ann"), answer("ann@x.org"),
        call("send_email", to="ann@x.org", body="hi"), answer("sent to ann@x.org"),
        solve("Ann was mailed."),
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
