"""The agent patterns the CLI can run, by name, built from settings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from agentlab.budget import RunBudget
from agentlab.config import Settings
from agentlab.context import ContextWindow
from agentlab.errors import UsageError
from agentlab.graphs.multi_agent import build_multi_agent, team_from_config
from agentlab.graphs.plan_execute import build_plan_execute_agent
from agentlab.graphs.react import build_react_agent
from agentlab.graphs.reflexion import build_reflexion_agent, expect_all
from agentlab.graphs.rewoo import build_rewoo_agent
from agentlab.memory import AgentMemory
from agentlab.tools import ApprovalPolicy, CallLedger, ToolOffer, ToolRunner, ToolStats

__all__ = ["PATTERNS", "build_pattern", "pattern_options"]

Builder = Callable[..., CompiledStateGraph[Any, Any, Any, Any]]

PATTERNS: dict[str, Builder] = {
    "react": build_react_agent,
    "plan-execute": build_plan_execute_agent,
    "reflexion": build_reflexion_agent,
    "multi-agent": build_multi_agent,
    "rewoo": build_rewoo_agent,
}


def pattern_options(
    pattern: str, tools: Sequence[BaseTool], *, expect: Sequence[str] = (), team: str | None = None
) -> dict[str, Any]:
    """The pattern's own options from CLI flags: reflexion's checker, multi-agent's team."""
    if expect and pattern != "reflexion":
        raise UsageError("--expect is a reflexion option (the checker of each trial's answer)")
    if team and pattern != "multi-agent":
        raise UsageError("--team is a multi-agent option (a JSON or TOML team file)")
    options: dict[str, Any] = {}
    if expect:
        options["checker"] = expect_all(*expect)
    if team:
        options["team"] = team_from_config(Path(team), tools)
    return options


def build_pattern(
    name: str,
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    settings: Settings,
    checkpointer: BaseCheckpointSaver[Any] | None,
    stats: ToolStats | None = None,
    ledger: CallLedger | None = None,
    memory: AgentMemory | None = None,
    **options: Any,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The pattern's graph; tool calls recorded in ``stats`` and journaled in ``ledger``;
    ``options`` are the pattern's own (a reflexion checker, a multi-agent team). ``memory``
    is wired into the ReAct graph (recall into the prompt head, an episode per run); for the
    other patterns the command line writes the episode after the run."""
    builder = PATTERNS.get(name)
    if builder is None:
        raise UsageError(f"unknown pattern {name!r}; available: {', '.join(sorted(PATTERNS))}")
    if memory is not None and name == "react":
        options = {**options, "memory": memory, "recall_tokens": settings.recall_tokens}
    return builder(
        model,
        tools,
        max_steps=settings.max_steps,
        checkpointer=checkpointer,
        context=ContextWindow.from_settings(model, tools, settings),
        approval=ApprovalPolicy.of(settings.approval, settings.approve_tools, settings.auto_tools),
        runner=ToolRunner(tools, ledger=ledger, stats=stats),
        budget=RunBudget(settings.max_tool_calls, settings.max_run_tokens, settings.max_wall_s),
        offer=ToolOffer(stats) if settings.cost_aware else None,
        **options,
    )
