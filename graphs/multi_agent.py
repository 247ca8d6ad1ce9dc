"""Multi-agent supervisor: a supervisor model plans the hand-offs a task needs, specialists
carry them out in turn, and the supervisor answers from their reports.

Each specialist is a ReAct sub-agent (:func:`~agentlab.graphs.react.build_react_agent`) with its
own prompt and tools. The supervisor's plan is a structured output, a :class:`TeamPlan` whose
hand-offs each name a member of the team (grammar-constrained to the team's names), written once
at the start of a run: a small model asked after each report tends to finish on the first one
and answer only the first part of a task. The hand-offs go out with LangGraph's
``Command(goto=...)`` without another model call; each specialist reads the reports before it
and hands back the same way. All of them share one state, so the graph's checkpointer covers the
sub-agents too: an approval interrupt inside a specialist pauses the whole run and
``Command(resume=...)`` continues it there. Reads top to bottom: state, team helpers, nodes,
graph.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict, TypeVar

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from agentlab.errors import UsageError
from agentlab.graphs._records import RunRecord, current_run, latest_task, messages_record
from agentlab.graphs._spec import AgentSpec
from agentlab.graphs._steps import Invoke, Steps, steps_node
from agentlab.graphs.react import build_react_agent

__all__ = [
    "NOBODY",
    "Answer",
    "Handoff",
    "MultiAgentState",
    "Specialist",
    "TeamPlan",
    "build_multi_agent",
    "default_team",
    "plan_model",
    "report",
    "team_from_config",
]

_SUPERVISOR = "supervisor"
NOBODY = "nobody"  # a plan's hand-off to no specialist: the supervisor answers itself
_T = TypeVar("_T", bound=BaseModel)


class MultiAgentState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    route: list[str]  # the specialists visited by the current run, in order
    instructions: list[str]  # what each of them was told, parallel to ``route``
    planned: list[dict[str, str]]  # the plan's hand-offs not made yet: {"to", "instruction"}
    error: str | None  # set when the run ends without an answer
    recalled: str  # memories recalled for this run (see agentlab.graphs._memory_hook)


# -- the team ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Specialist:
    """A member of the team: the supervisor reads ``name`` and ``description``; the specialist's
    ReAct sub-agent runs with ``prompt`` as its system prompt and only ``tools``."""

    name: str
    description: str
    prompt: str
    tools: tuple[BaseTool, ...]


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_RESERVED = {_SUPERVISOR, NOBODY, *MultiAgentState.__annotations__}
_ANALYST_WORDS = re.compile(r"\b(calculat|math|convert|comput|arithmetic|unit)", re.IGNORECASE)

_RESEARCHER_PROMPT = (
    "You are the researcher of a team. Look facts up with your tools; never answer from "
    "memory. Answer briefly with the facts you found."
)
_ANALYST_PROMPT = (
    "You are the analyst of a team. Compute and convert with your tools, using the numbers you "
    "are given; never calculate in your head. Answer briefly with the result."
)


def default_team(tools: Sequence[BaseTool]) -> list[Specialist]:
    """A researcher and an analyst sharing ``tools`` out between them.

    A tool goes to the ``analyst`` (computes and converts) when its name or description
    mentions calculating, math, converting, computing, arithmetic or units (a word starting
    with ``calculat``, ``math``, ``convert``, ``comput``, ``arithmetic`` or ``unit``); every
    other tool goes to the ``researcher`` (looks facts up). A side left without tools is
    dropped, so no tools give an empty team.
    """
    analyst = tuple(t for t in tools if _ANALYST_WORDS.search(f"{t.name} {t.description}"))
    researcher = tuple(t for t in tools if t not in analyst)
    team = [
        Specialist("researcher", "looks facts up", _RESEARCHER_PROMPT, researcher),
        Specialist("analyst", "computes and converts numbers", _ANALYST_PROMPT, analyst),
    ]
    return [member for member in team if member.tools]


class _MemberConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = Field(min_length=1)
    prompt: str | None = None
    tools: list[str]


class _TeamConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    specialists: list[_MemberConfig] = Field(min_length=1)


def team_from_config(
    config: Mapping[str, Any] | Path, tools: Sequence[BaseTool]
) -> list[Specialist]:
    """A team described by a mapping or a ``.json`` / ``.toml`` file::

        [[specialists]]
        name = "researcher"
        description = "looks facts up"
        prompt = "You are the researcher ..."   # optional
        tools = ["lookup", "get_weather"]       # names of tools in ``tools``

    Raises :class:`~agentlab.errors.UsageError` naming the problem: an unreadable file, a
    missing or unknown key, an empty, invalid or duplicate name, an unknown tool name.
    """
    data = _read_config(config) if isinstance(config, Path) else dict(config)
    where = f"team config {str(config)!r}" if isinstance(config, Path) else "team config"
    try:
        parsed = _TeamConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'top level'}: {error['msg']}"
            for error in exc.errors()
        )
        raise UsageError(f"{where}: {problems}") from None
    by_name = {tool.name: tool for tool in tools}
    team = []
    for member in parsed.specialists:
        unknown = [name for name in member.tools if name not in by_name]
        if unknown:
            raise UsageError(
                f"{where}: specialist {member.name!r} names unknown tools {unknown}; "
                f"available: {', '.join(sorted(by_name)) or 'none'}"
            )
        prompt = member.prompt or (
            f"You are the {member.name} of a team: you {member.description}. Use your tools "
            "and answer briefly with what you found."
        )
        chosen = tuple(by_name[name] for name in member.tools)
        team.append(Specialist(member.name, member.description, prompt, chosen))
    _check_team(team, where)
    return team


def _read_config(path: Path) -> dict[str, Any]:
    if path.suffix not in (".json", ".toml"):
        raise UsageError(f"team config {str(path)!r}: use a .json or .toml file")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except OSError as exc:
        raise UsageError(f"team config {str(path)!r} cannot be read: {exc.strerror}") from None
    except ValueError as exc:  # JSON, TOML and encoding errors
        raise UsageError(
            f"team config {str(path)!r} is not valid {path.suffix[1:]}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"team config {str(path)!r}: expected an object with 'specialists'")
    return data


def _check_team(team: Sequence[Specialist], where: str = "team") -> None:
    if not team:
        raise UsageError(f"{where}: the team is empty; give at least one specialist")
    seen: set[str] = set()
    for member in team:
        if not member.name.strip():
            raise UsageError(f"{where}: a specialist has an empty name")
        if not _NAME.fullmatch(member.name) or member.name in _RESERVED:
            raise UsageError(
                f"{where}: invalid specialist name {member.name!r}: use letters, digits, '_' "
                f"or '-', starting with a letter, and none of {sorted(_RESERVED)}"
            )
        if member.name in seen:
            raise UsageError(f"{where}: duplicate specialist name {member.name!r}")
        seen.add(member.name)


class Handoff(BaseModel):
    """One hand-off of a plan: what a specialist must do, then who (the instruction first, so
    the model says what is to be done before it picks who does it)."""

    instruction: str = Field(description="what that specialist must do")
    to: str = Field(description=f"the specialist who does it, or {NOBODY}")


class TeamPlan(BaseModel):
    """The supervisor's first decision in a run: every hand-off the task needs, in order, or
    the answer when it needs none."""

    handoffs: list[Handoff] = Field(
        min_length=1,
        description=f"one hand-off for each thing the task asks, in order; to {NOBODY} when "
        "the task needs no specialist",
    )
    answer: str = Field(description=f"the answer when every hand-off is to {NOBODY}, else empty")


def plan_model(names: Sequence[str], max_handoffs: int = 4) -> type[TeamPlan]:
    """:class:`TeamPlan` with each hand-off's ``to`` restricted to ``names`` and at most
    ``max_handoffs`` of them.

    Bound as a tool, its schema is named ``TeamPlan``; a grammar-constrained model (such as
    :class:`~agentlab.llm.LlamaChatModel`) can then only name a member of the team.
    """
    choices: Any = Literal[(*names, NOBODY)]
    to = Field(description=Handoff.model_fields["to"].description)
    handoff = create_model("Handoff", __base__=Handoff, __doc__=Handoff.__doc__, to=(choices, to))
    listed = Field(
        min_length=1,
        max_length=max_handoffs,
        description=TeamPlan.model_fields["handoffs"].description,
    )
    return create_model(
        "TeamPlan", __base__=TeamPlan, __doc__=TeamPlan.__doc__,
        handoffs=(list[handoff], listed),  # type: ignore[valid-type]
    )  # fmt: skip


class Answer(BaseModel):
    """The final answer to the user's task."""

    answer: str = Field(description="every part the task asks, each with its value")


# -- the nodes -------------------------------------------------------------------------------


_PLANNER_PROMPT = """You lead a team of specialists:
{team}
Facts about specific companies, people, products, places or documents, live data, and every \
calculation or conversion come only from the specialists' tools, never from your own \
knowledge. Common knowledge, translations and writing need no specialist: hand such a task \
to {nobody} and write the answer yourself.
Plan the hand-offs for the user's task, in order: one for each thing the task asks, each to \
the specialist whose tools fit, telling them exactly what to do. A specialist reads the \
reports of the hand-offs before it."""

_SOLVER_PROMPT = """You write the final answer to the user's task from your team's reports. \
Give every part the task asks, each with the exact value a report gives; do not compute or \
add anything the reports do not say."""


def _reports(messages: Sequence[BaseMessage], names: set[str]) -> list[tuple[str, str]]:
    """(specialist, report) of the current run, in order."""
    run = current_run(messages)
    return [
        (m.name, m.text)
        for m in run
        if isinstance(m, AIMessage) and m.name in names and not m.tool_calls
    ]


def report(values: Mapping[str, Any]) -> RunRecord:
    """The run's tool calls (the specialists' turns are in the messages), its route and each
    specialist's last report."""
    record = messages_record(values)
    run = current_run(values.get("messages", []))
    reports = {m.name: m.text for m in run if isinstance(m, AIMessage) and m.name
               and m.name != _SUPERVISOR and not m.tool_calls}  # fmt: skip
    return RunRecord(
        record.tool_calls, {"route": list(values.get("route", [])), "reports": reports}
    )


def _same(a: str, b: str) -> bool:
    """Two instructions that differ only in case, spacing or final punctuation are the same."""

    def norm(text: str) -> str:
        return " ".join(text.casefold().split()).rstrip(".!?")

    return norm(a) == norm(b)


def _distinct(handoffs: Sequence[Handoff]) -> list[dict[str, str]]:
    """The plan's hand-offs that say what to do, each once."""
    kept: list[dict[str, str]] = []
    for h in handoffs:
        if (
            h.to != NOBODY
            and h.instruction.strip()
            and not any(k["to"] == h.to and _same(k["instruction"], h.instruction) for k in kept)
        ):
            kept.append({"to": h.to, "instruction": h.instruction.strip()})
    return kept


def _supervisor(
    model: BaseChatModel, team: Sequence[Specialist], max_routes: int
) -> Callable[[MultiAgentState, RunnableConfig], Steps[Command[str]]]:
    names = [member.name for member in team]
    planner = model.with_structured_output(plan_model(names, max_routes), include_raw=True)
    solver = model.with_structured_output(Answer, include_raw=True)
    roster = "\n".join(
        f"- {member.name}: {member.description} (tools: {', '.join(t.name for t in member.tools)})"
        for member in team
    )
    planning = SystemMessage(_PLANNER_PROMPT.format(team=roster, nobody=NOBODY))
    solving = SystemMessage(_SOLVER_PROMPT)

    def supervise(state: MultiAgentState, config: RunnableConfig) -> Steps[Command[str]]:
        messages = state["messages"]
        task = latest_task(messages)
        fresh = isinstance(messages[-1], HumanMessage)  # a new run plans anew
        route = [] if fresh else list(state.get("route", []))
        instructions = [] if fresh else list(state.get("instructions", []))
        recalled = state.get("recalled", "")
        memories = [SystemMessage(recalled)] if recalled else []
        base: dict[str, Any] = {"route": route, "instructions": instructions, "planned": []}

        def finish(answer: str, error: str) -> Command[str]:
            if not answer:
                return Command(goto=END, update={**base, "error": error})
            final = AIMessage(content=answer, name=_SUPERVISOR)
            return Command(goto=END, update={**base, "messages": [final], "error": None})

        if fresh:
            drafted = yield Invoke(planner, [planning, *memories, HumanMessage(f"Task: {task}")])
            plan = _parsed(drafted, TeamPlan)
            if plan is None:
                return finish("", _no_plan(drafted, names, max_routes))
            planned = _distinct(plan.handoffs)
            if not planned:
                return finish(
                    plan.answer.strip(), "the supervisor planned no hand-off and no answer"
                )
        else:
            planned = list(state.get("planned", []))
        if planned:  # the plan's next hand-off needs no model call
            (first, *later) = planned
            update = {
                "route": [*route, first["to"]],
                "instructions": [*instructions, first["instruction"]],
                "planned": later,
                "error": None,
            }
            return Command(goto=first["to"], update=update)
        reports = _reports(messages, set(names))
        done = HumanMessage(_findings(task, reports, instructions))
        solved = _parsed((yield Invoke(solver, [solving, *memories, done])), Answer)
        written = solved.answer.strip() if solved is not None else ""
        latest = reports[-1][1] if reports else ""
        return finish(written or latest, "the specialists gave no report to answer from")

    return supervise


def _parsed(output: object, schema: type[_T]) -> _T | None:
    parsed = output.get("parsed") if isinstance(output, dict) else None
    return parsed if isinstance(parsed, schema) else None


def _findings(task: str, reports: Sequence[tuple[str, str]], instructions: Sequence[str]) -> str:
    """What the supervisor answers from: the task and each report with what its author was
    asked."""
    done = "\n".join(
        f"[{n}] {who} (asked: {asked}): {report}"
        for n, ((who, report), asked) in enumerate(zip(reports, instructions, strict=False), 1)
    )
    return f"Task: {task}\n\nReports:\n{done}"


def _no_plan(drafted: object, names: Sequence[str], max_handoffs: int) -> str:
    """Why the supervisor's first turn gave no plan: an unknown specialist's name, too many
    hand-offs, or what did not parse."""
    output = drafted if isinstance(drafted, dict) else {}
    raw = output.get("raw")
    if isinstance(raw, AIMessage) and raw.tool_calls:
        handoffs = raw.tool_calls[0]["args"].get("handoffs")
        if isinstance(handoffs, list):
            unknown = [h.get("to") for h in handoffs if isinstance(h, dict)
                       and h.get("to") not in (*names, NOBODY)]  # fmt: skip
            if unknown:
                return f"the supervisor handed off to unknown specialist {unknown[0]!r}; the " + (
                    f"team is {', '.join(names)}"
                )
            if len(handoffs) > max_handoffs:
                return (
                    f"the supervisor planned {len(handoffs)} hand-offs, more than "
                    f"max_routes={max_handoffs} (raise max_routes or simplify the task)"
                )
    return f"the supervisor gave no valid plan: {output.get('parsing_error') or 'no decision'}"


def _brief(instruction: str, reports: Sequence[tuple[str, str]]) -> str:
    """What a specialist is told: its instruction and the team's findings so far (not the
    whole task: given it, a specialist tries the parts meant for others with the wrong tools)."""
    lines = [instruction]
    if reports:
        lines += ["", "What the team found so far:", *(f"- {n}: {r}" for n, r in reports)]
    return "\n".join(lines)


def _specialist(
    member: Specialist, agent: CompiledStateGraph[Any, Any, Any, Any], names: set[str]
) -> Callable[[MultiAgentState, RunnableConfig], Steps[Command[str]]]:
    def work(state: MultiAgentState, config: RunnableConfig) -> Steps[Command[str]]:
        # Re-run from here when a resumed approval continues the sub-agent: pure until invoke.
        messages = state["messages"]
        reports = _reports(messages, names)
        brief = _brief(state["instructions"][-1], reports)
        run = {"messages": [HumanMessage(brief)], "recalled": state.get("recalled", "")}
        result = yield Invoke(agent, run, config)
        transcript = [  # the sub-agent's turns, named for the specialist, without the brief
            m.model_copy(update={"name": member.name}) if isinstance(m, AIMessage) else m
            for m in result["messages"][1:]
        ]
        if result.get("error"):
            error = f"{member.name}: {result['error']}"
            return Command(goto=END, update={"messages": transcript, "error": error})
        return Command(goto=_SUPERVISOR, update={"messages": transcript})

    return work


# -- the graph -------------------------------------------------------------------------------


def build_multi_agent(
    spec: AgentSpec, *, team: Sequence[Specialist] | None = None, max_routes: int = 4
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile a supervisor graph over ``team`` (default: :func:`default_team` of the spec's
    tools).

    At the start of each run ``supervisor`` plans the hand-offs (a :class:`TeamPlan`, at most
    ``max_routes``; a repeated hand-off is made once), or answers at once when it plans none.
    The hand-offs then go out in order without another model call: each specialist node runs
    a ReAct sub-agent with its own prompt and tools on its instruction and the reports before
    it; its tool turns and its report (an ``AIMessage`` named after it) join the shared
    ``messages`` and it hands back to the supervisor. After the last report the supervisor
    writes the answer from the task and every report (empty: the latest report), appended as
    the final ``AIMessage`` (name ``supervisor``). The spec's step limit, context, approval,
    runner, budget and offer apply to each specialist's run as in
    :func:`~agentlab.graphs.react.build_react_agent`; approvals need a checkpointer. With
    memory, what is recalled for the task reaches the supervisor and every specialist, and the
    run is recorded as an episode.

    A run ends with ``error`` set when a specialist ends without an answer, or when the
    supervisor's plan does not parse (an unknown specialist, more than ``max_routes``
    hand-offs) or has neither a hand-off nor an answer. Raises
    :class:`~agentlab.errors.UsageError` for an empty team, an empty, invalid or duplicate
    name, or ``max_routes`` below 1.
    """
    members = list(default_team(spec.tools) if team is None else team)
    _check_team(members)
    if max_routes < 1:
        raise UsageError(f"max_routes must be at least 1, got {max_routes}")
    names = {member.name for member in members}
    graph = StateGraph(MultiAgentState)
    supervise = _supervisor(spec.model, members, max_routes)
    graph.add_node(
        _SUPERVISOR,
        steps_node(_SUPERVISOR, supervise, spec, report),
        destinations=(*(member.name for member in members), END),
    )
    for member in members:
        agent = build_react_agent(spec.sub_agent(member.tools, member.prompt))
        work = _specialist(member, agent, names)
        node = steps_node(member.name, work, spec, report, recall=False)
        graph.add_node(member.name, node, destinations=(_SUPERVISOR, END))
    graph.add_edge(START, _SUPERVISOR)
    return graph.compile(checkpointer=spec.checkpointer, name="multi-agent")
