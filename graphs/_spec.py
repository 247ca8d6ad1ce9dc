"""What every pattern is built from: the model, the tools, and the parts that shape a run.

One :class:`AgentSpec` goes to every builder, so a pattern cannot forget a part (the context
window, approval, the tool runner, budgets, the tool offer, memory) and its sub-agents get
the same parts from :meth:`AgentSpec.sub_agent`. Each part left ``None`` has a default.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver

from agentlab.budget import RunBudget
from agentlab.context import ContextWindow
from agentlab.graphs._memory_hook import MemoryHook
from agentlab.tools import ApprovalPolicy, NeedsApproval, ToolRunner

__all__ = ["AgentSpec", "Offer"]

Offer = Callable[[Sequence[BaseTool]], Sequence[BaseTool]]
"""Picks, orders and labels the tools the model sees at a turn (e.g. ``ToolOffer``)."""


@dataclass(frozen=True)
class AgentSpec:
    """The parts of an agent.

    ``max_steps`` bounds the model turns of a run (of each sub-agent run, in patterns that
    have them). ``checkpointer`` keeps threads and makes approvals possible. ``context`` keeps
    each model call within its token budget (default: a cache-aware
    :class:`~agentlab.context.ContextWindow`). ``approval`` decides which calls wait for a
    person (default :class:`~agentlab.tools.ApprovalPolicy`: every acting tool). ``runner``
    executes calls (default: timeouts and retries from each tool's metadata). ``budget`` limits
    tool calls, tokens and seconds per run. ``offer`` picks the tools the model sees at each
    turn (default: all). ``memory`` recalls into the prompt head before a run and records the
    run's episode after it. ``system_prompt`` leads the prompt of the pattern's tool-calling
    agent.
    """

    model: BaseChatModel
    tools: Sequence[BaseTool] = ()
    max_steps: int = 8
    checkpointer: BaseCheckpointSaver[Any] | None = None
    context: ContextWindow | None = None
    approval: NeedsApproval | None = None
    runner: ToolRunner | None = None
    budget: RunBudget = field(default_factory=RunBudget)
    offer: Offer | None = None
    memory: MemoryHook | None = None
    system_prompt: str | None = None

    def window(self) -> ContextWindow:
        return self.context or ContextWindow(self.model, self.tools)

    def tool_runner(self) -> ToolRunner:
        return self.runner or ToolRunner(self.tools)

    def policy(self) -> NeedsApproval:
        return self.approval if self.approval is not None else ApprovalPolicy()

    def sub_agent(
        self, tools: Sequence[BaseTool] | None = None, system_prompt: str | None = None
    ) -> AgentSpec:
        """The spec of an agent that runs inside this one's nodes: the same model, limits,
        approval, runner, budget and offer; no checkpointer of its own (it runs under the
        parent's) and no memory (the parent recalls and records for the whole run)."""
        return replace(
            self,
            tools=self.tools if tools is None else tools,
            system_prompt=system_prompt,
            checkpointer=None,
            memory=None,
        )
