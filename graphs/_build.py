"""One way to build an agent: a pattern by name, its parts from the settings.

:func:`build_agent` is what the command line runs, so a library user gets the same agent: the
context window, approval policy, tool journal and statistics, tool offer, budgets, memory and
checkpointer that the settings say, and the search tool over the user's documents when
``settings.knowledge`` names a collection.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Sequence
from contextlib import ExitStack, closing
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from agentlab._checkpoints import open_checkpointer
from agentlab.budget import RunBudget
from agentlab.config import Settings, load_settings
from agentlab.context import ContextWindow
from agentlab.errors import UsageError
from agentlab.graphs import multi_agent, plan_execute, reflexion, rewoo
from agentlab.graphs._memory_hook import MemoryHook, Report
from agentlab.graphs._records import messages_record
from agentlab.graphs._spec import AgentSpec
from agentlab.graphs.multi_agent import build_multi_agent
from agentlab.graphs.plan_execute import build_plan_execute_agent
from agentlab.graphs.react import build_react_agent
from agentlab.graphs.reflexion import build_reflexion_agent
from agentlab.graphs.rewoo import build_rewoo_agent
from agentlab.llm import LlamaChatModel
from agentlab.memory import AgentMemory, KnowledgeBase, knowledge_tools, memory_tools
from agentlab.tools import ApprovalPolicy, CallLedger, ToolOffer, ToolRunner, ToolStats, as_tool
from agentlab.tools import load_tools as load_tool_specs

__all__ = [
    "PATTERNS",
    "Builder",
    "Graph",
    "Pattern",
    "ToolsArg",
    "build_agent",
    "check_pattern",
    "spec_from_settings",
]

Graph = CompiledStateGraph[Any, Any, Any, Any]
Builder = Callable[..., Graph]


@dataclass(frozen=True)
class Pattern:
    """A pattern: how its graph is built, and how a run is read back from the graph's state."""

    build: Builder
    report: Report


PATTERNS: dict[str, Pattern] = {
    "react": Pattern(build_react_agent, messages_record),
    "plan-execute": Pattern(build_plan_execute_agent, plan_execute.report),
    "reflexion": Pattern(build_reflexion_agent, reflexion.report),
    "multi-agent": Pattern(build_multi_agent, multi_agent.report),
    "rewoo": Pattern(build_rewoo_agent, rewoo.report),
}

ToolsArg = str | Sequence[BaseTool | Callable[..., Any]]
"""Tools as objects (LangChain tools or typed functions) or a ``MODULE:ATTR,...`` string."""


def check_pattern(name: str) -> Pattern:
    """Pattern ``name``; a usage error naming the patterns for any other."""
    pattern = PATTERNS.get(name)
    if pattern is None:
        raise UsageError(f"unknown pattern {name!r}; available: {', '.join(sorted(PATTERNS))}")
    return pattern


def spec_from_settings(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    settings: Settings,
    *,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    stats: ToolStats | None = None,
    ledger: CallLedger | None = None,
    memory: AgentMemory | None = None,
    system_prompt: str | None = None,
) -> AgentSpec:
    """The parts the settings say, over ``tools`` (calls counted in ``stats``, journaled in
    ``ledger``; recall from and episodes into ``memory``)."""
    return AgentSpec(
        model=model,
        tools=tools,
        max_steps=settings.max_steps,
        checkpointer=checkpointer,
        context=ContextWindow.from_settings(model, tools, settings),
        approval=ApprovalPolicy.of(settings.approval, settings.approve_tools, settings.auto_tools),
        runner=ToolRunner(tools, ledger=ledger, stats=stats),
        budget=RunBudget(settings.max_tool_calls, settings.max_run_tokens, settings.max_wall_s),
        offer=ToolOffer(stats) if settings.cost_aware and stats is not None else None,
        memory=MemoryHook(memory, settings.recall_tokens) if memory is not None else None,
        system_prompt=system_prompt,
    )


def build_agent(
    pattern: str = "react",
    tools: ToolsArg = (),
    *,
    settings: Settings | None = None,
    model: BaseChatModel | None = None,
    checkpointer: BaseCheckpointSaver[Any] | Literal["settings"] | None = "settings",
    system_prompt: str | None = None,
    resources: ExitStack | None = None,
    **options: Any,
) -> Graph:
    """The compiled graph of ``pattern`` over ``tools``, built as the command line builds it.

    ``settings`` default to the command line's loading (environment, config file, defaults).
    The model is the settings' llama.cpp model unless ``model`` is given. The checkpointer is
    the settings' SQLite file, or Postgres at ``settings.database_url`` (which then also keeps
    the tool journal and statistics), unless ``checkpointer`` is given (``None``: no
    checkpoints, and so no approvals). Memory follows ``settings.memory``;
    ``settings.knowledge`` adds ``search_knowledge`` over that collection. ``options`` are the
    pattern's own (``checker`` and ``max_trials`` for reflexion, ``team`` and ``max_routes``
    for multi-agent, ``max_plan_steps`` and ``max_replans`` for the planners). Open files and
    connections (checkpoints, tool records, memory) are closed by ``resources`` when given,
    else when the graph is collected.
    """
    builder = check_pattern(pattern).build
    _check_options(pattern, builder, options)
    settings = settings or load_settings()
    loaded = load_tool_specs(tools) if isinstance(tools, str) else [as_tool(t) for t in tools]
    stack = resources if resources is not None else ExitStack()
    try:
        graph = _build(builder, loaded, settings, model, checkpointer, system_prompt, stack,
                       options)  # fmt: skip
    except BaseException:
        stack.close()
        raise
    if resources is None:
        weakref.finalize(graph, stack.close)
    return graph


def _build(
    builder: Builder,
    tools: list[BaseTool],
    settings: Settings,
    model: BaseChatModel | None,
    checkpointer: BaseCheckpointSaver[Any] | Literal["settings"] | None,
    system_prompt: str | None,
    stack: ExitStack,
    options: dict[str, Any],
) -> Graph:
    if settings.knowledge is not None:  # before the model loads: a wrong name fails at once
        tools = [*tools, *_knowledge(settings, settings.knowledge, stack)]
    chat_model = model or LlamaChatModel.from_settings(settings)
    settings.home.mkdir(parents=True, exist_ok=True)
    if checkpointer == "settings":
        checkpointer = open_checkpointer(settings, stack)
    records = settings.database_url or settings.tool_db_path  # beside the checkpoints
    ledger = stack.enter_context(closing(CallLedger(records)))
    stats = stack.enter_context(closing(ToolStats(records)))
    memory = None
    if settings.memory:
        memory = stack.enter_context(closing(AgentMemory.from_settings(settings)))
        if settings.memory_tools:
            tools = [*tools, *memory_tools(memory)]
    spec = spec_from_settings(chat_model, tools, settings, checkpointer=checkpointer,
                              stats=stats, ledger=ledger, memory=memory,
                              system_prompt=system_prompt)  # fmt: skip
    return builder(spec, **options)


def _knowledge(settings: Settings, collection: str, stack: ExitStack) -> list[BaseTool]:
    """The search tool over ``collection``; a collection that holds no documents is a usage
    error now rather than a "not found" in the middle of every run."""
    kb = stack.enter_context(closing(KnowledgeBase.from_settings(settings)))
    if collection not in kb.collections():
        known = ", ".join(kb.collections()) or "none yet"
        raise UsageError(
            f"no knowledge collection {collection!r} (collections: {known}); add documents "
            f"with agentlab knowledge add PATH... --collection {collection}"
        )
    return knowledge_tools(kb, collection)


def _check_options(pattern: str, builder: Builder, options: dict[str, Any]) -> None:
    """Options the pattern does not take are a usage error that names the ones it does."""
    params = inspect.signature(builder).parameters
    known = [name for name, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(known))
    if unknown:
        takes = ", ".join(known) or "no options"
        raise UsageError(
            f"pattern {pattern!r} does not take {', '.join(unknown)}; it takes {takes}"
        )
