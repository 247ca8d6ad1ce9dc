"""Multi-agent supervisor: a supervisor model hands the task to specialists one at a time,
reads their reports, and answers when they suffice.

Each specialist is a ReAct sub-agent (:func:`~agentlab.graphs.react.build_react_agent`) with its
own prompt and tools. The supervisor decides with a structured output, a :class:`Route` whose
``next`` is constrained to the team's names plus ``FINISH``, and hands off with LangGraph's
``Command(goto=...)``; a specialist reports back the same way. All of them share one state, so
the graph's checkpointer covers the sub-agents too: an approval interrupt inside a specialist
pauses the whole run and ``Command(resume=...)`` continues it there. Reads top to bottom: state,
team helpers, nodes, graph.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

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
    "FINISH",
    "MultiAgentState",
    "Route",
    "Specialist",
    "build_multi_agent",
    "default_team",
    "report",
    "route_model",
    "team_from_config",
]

FINISH = "FINISH"
_SUPERVISOR = "supervisor"


class MultiAgentState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    route: list[str]  # the specialists visited by the current run, in order
    instructions: list[str]  # what each of them was told, parallel to ``route``
    error: str | None  # set when the run ends without an answer
    recalled: str  # memories recalled for this run (see agentlab.graphs._memory_hook)
    forced_finish: str  # why loop protection ended the run with the latest report ('' if not)


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
_RESERVED = {_SUPERVISOR, FINISH, *MultiAgentState.__annotations__}
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


class Route(BaseModel):
    """The supervisor's decision: who acts next, or the final answer. The instruction comes
    first, so the model says what is still to be done before it picks who does it."""

    instruction: str = Field(
        description="what that specialist must do, with the facts it needs; empty to finish"
    )
    next: str = Field(
        description=f"the specialist who acts now, or {FINISH} when the reports answer the task"
    )
    answer: str = Field(description=f"the final answer for the user when next is {FINISH}")


def route_model(names: Sequence[str]) -> type[Route]:
    """:class:`Route` with ``next`` restricted to ``names`` and ``FINISH``.

    Bound as a tool, its schema is named ``Route``; a grammar-constrained model (such as
    :class:`~agentlab.llm.LlamaChatModel`) can then only name a member of the team.
    """
    choices: Any = Literal[(*names, FINISH)]
    next_field = Field(description=Route.model_fields["next"].description)
    return create_model("Route", __base__=Route, __doc__=Route.__doc__, next=(choices, next_field))


# -- the nodes -------------------------------------------------------------------------------


_SUPERVISOR_PROMPT = """You lead a team of specialists:
{team}
Facts about specific companies, people, products, places or documents, live data, and every \
calculation or conversion come only from the specialists' tools: hand such a task to the \
specialist whose tools fit, and answer only with what the reports say, never from your own \
knowledge. Common knowledge, translations and writing need no specialist: finish at once.
Give the user's task to one specialist at a time. Tell them exactly what to do and include the \
facts from earlier reports that they need. A task that asks several things needs a report \
for each. When the reports answer every part of the task, set next to {finish} and write the \
final answer, giving every part with its value."""


def _reports(messages: Sequence[BaseMessage], names: set[str]) -> list[tuple[str, str]]:
    """(specialist, report) of the current run, in order."""
    run = current_run(messages)
    return [
        (m.name, m.text)
        for m in run
        if isinstance(m, AIMessage) and m.name in names and not m.tool_calls
    ]


def report(values: Mapping[str, Any]) -> RunRecord:
    """The run's tool calls (the specialists' turns are in the messages), its route, each
    specialist's last report, and why loop protection forced a finish, if it did."""
    record = messages_record(values)
    run = current_run(values.get("messages", []))
    reports = {m.name: m.text for m in run if isinstance(m, AIMessage) and m.name
               and m.name != _SUPERVISOR and not m.tool_calls}  # fmt: skip
    extra: dict[str, Any] = {"route": list(values.get("route", [])), "reports": reports}
    if values.get("forced_finish"):
        extra["forced_finish"] = values["forced_finish"]
    return RunRecord(record.tool_calls, extra)


def _same(a: str, b: str) -> bool:
    """Two instructions that differ only in case, spacing or final punctuation are the same."""

    def norm(text: str) -> str:
        return " ".join(text.casefold().split()).rstrip(".!?")

    return norm(a) == norm(b)


def _loop(route: Sequence[str], instructions: Sequence[str], name: str, instruction: str) -> str:
    """Why handing ``instruction`` to ``name`` would loop, or an empty string."""
    if any(n == name and _same(i, instruction) for n, i in zip(route, instructions, strict=False)):
        return f"{name} was given the same instruction twice"
    last = route[-4:]
    if len(last) == 4 and last[0] == last[2] == name and last[1] == last[3] != name:
        return f"the supervisor kept bouncing between {name} and {last[1]}"
    return ""


def _supervisor(
    model: BaseChatModel, team: Sequence[Specialist], max_routes: int
) -> Callable[[MultiAgentState, RunnableConfig], Steps[Command[str]]]:
    names = [member.name for member in team]
    router = model.with_structured_output(route_model(names), include_raw=True)
    roster = "\n".join(
        f"- {member.name}: {member.description} (tools: {', '.join(t.name for t in member.tools)})"
        for member in team
    )
    system = SystemMessage(_SUPERVISOR_PROMPT.format(team=roster, finish=FINISH))

    def supervise(state: MultiAgentState, config: RunnableConfig) -> Steps[Command[str]]:
        messages = state["messages"]
        fresh = isinstance(messages[-1], HumanMessage)  # a new run starts a new route
        route = [] if fresh else list(state.get("route", []))
        instructions = [] if fresh else list(state.get("instructions", []))
        reports = _reports(messages, set(names))
        prompt = _progress(latest_task(messages), reports, instructions)
        recalled = state.get("recalled", "")
        memories = [SystemMessage(recalled)] if recalled else []
        decided = yield Invoke(router, [system, *memories, HumanMessage(prompt)])
        base: dict[str, Any] = {"route": route, "instructions": instructions, "forced_finish": ""}

        def stop(error: str) -> Command[str]:
            return Command(goto=END, update={**base, "error": error})

        def finish(answer: str, why: str = "") -> Command[str]:
            if not answer:
                return stop("the supervisor finished without an answer and no report to use")
            final = AIMessage(content=answer, name=_SUPERVISOR)
            update = {**base, "forced_finish": why, "messages": [final], "error": None}
            return Command(goto=END, update=update)

        choice = decided.get("parsed") if isinstance(decided, dict) else None
        if not isinstance(choice, Route):
            return stop(_no_route(decided, names))
        latest = reports[-1][1] if reports else ""
        if choice.next == FINISH:
            return finish(choice.answer.strip() or latest)
        if len(route) >= max_routes:
            return stop(
                f"route limit reached: {max_routes} hand-offs to specialists without a final "
                "answer (raise max_routes or simplify the task)"
            )
        looping = _loop(route, instructions, choice.next, choice.instruction)
        if looping:
            return finish(latest, f"loop protection: {looping}")
        update = {
            **base,
            "route": [*route, choice.next],
            "instructions": [*instructions, choice.instruction],
            "error": None,
        }
        return Command(goto=choice.next, update=update)

    return supervise


def _progress(task: str, reports: Sequence[tuple[str, str]], instructions: Sequence[str]) -> str:
    """What the supervisor reads: the task and each report with what its author was asked."""
    done = "\n".join(
        f"[{n}] {who} (asked: {asked}): {report}"
        for n, ((who, report), asked) in enumerate(zip(reports, instructions, strict=False), 1)
    )
    return f"Task: {task}\n\nReports so far:\n{done or 'none yet'}"


def _no_route(decided: object, names: Sequence[str]) -> str:
    """Why a supervisor turn gave no route: an unknown specialist's name, or what did not parse."""
    output = decided if isinstance(decided, dict) else {}
    raw = output.get("raw")
    if isinstance(raw, AIMessage) and raw.tool_calls:
        wanted = raw.tool_calls[0]["args"].get("next")
        if wanted is not None and wanted not in (*names, FINISH):
            return f"the supervisor routed to unknown specialist {wanted!r}; the team is " + (
                ", ".join(names)
            )
    return f"the supervisor gave no valid route: {output.get('parsing_error') or 'no decision'}"


def _brief(task: str, instruction: str, reports: Sequence[tuple[str, str]]) -> str:
    """What a specialist is told: its instruction, the user's task, the team's findings."""
    lines = [instruction.strip() or task, "", f"The user's task, for context: {task}"]
    if reports:
        lines += ["", "What the team found so far:", *(f"- {n}: {r}" for n, r in reports)]
    return "\n".join(lines)


def _specialist(
    member: Specialist, agent: CompiledStateGraph[Any, Any, Any, Any], names: set[str]
) -> Callable[[MultiAgentState, RunnableConfig], Steps[Command[str]]]:
    def work(state: MultiAgentState, config: RunnableConfig) -> Steps[Command[str]]:
        # Re-run from here when a resumed approval continues the sub-agent: pure until invoke.
        messages = state["messages"]
        task = latest_task(messages)
        reports = _reports(messages, names)
        brief = _brief(task, state["instructions"][-1], reports)
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
    spec: AgentSpec, *, team: Sequence[Specialist] | None = None, max_routes: int = 6
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile a supervisor graph over ``team`` (default: :func:`default_team` of the spec's
    tools).

    ``supervisor`` picks the next specialist with an instruction, or finishes with an answer
    (empty: the latest report), appended as the final ``AIMessage`` (name ``supervisor``).
    Each specialist node runs a ReAct sub-agent with its own prompt and tools; its tool turns
    and its report (an ``AIMessage`` named after it) join the shared ``messages`` and it hands
    back to the supervisor. The spec's step limit, context, approval, runner, budget and offer
    apply to each specialist's run as in :func:`~agentlab.graphs.react.build_react_agent`;
    approvals need a checkpointer. With memory, what is recalled for the task reaches the
    supervisor and every specialist, and the run is recorded as an episode.

    A run ends with ``error`` set when a specialist ends without an answer, when the
    supervisor names no valid route (an unknown specialist), or when it wants another
    hand-off after ``max_routes``. Loop protection forces a finish, answered with the latest
    report and noted in ``forced_finish``, when the supervisor gives a specialist an
    instruction it already gave it in this run, or wants a fifth alternating hand-off after
    A→B→A→B. Raises :class:`~agentlab.errors.UsageError` for an empty team or an empty,
    invalid or duplicate name.
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
