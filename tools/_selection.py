"""Which tools the model is offered, and how: reliable before failing, cheap before expensive,
one tool per job, failing tools withheld for a while (a circuit breaker)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.tools import BaseTool

from agentlab.tools._meta import meta_of
from agentlab.tools._stats import ToolStats

__all__ = ["ToolOffer"]


@dataclass
class ToolOffer:
    """Call it with the tools to get the ones to bind for the next model turn.

    - A tool whose last ``threshold`` calls all failed within ``cooldown_s`` is withheld
      (unless that would leave nothing); after the cooldown it is offered again.
    - Of tools declaring the same ``job`` only the most reliable, then cheapest, is offered:
      a small model does not weigh costs it reads, so the choice is made for it. The others
      step in when that one fails.
    - The rest are listed reliable first, then cheap first; when costs differ each description
      starts with ``[cheap]`` or ``[expensive]``, and a tool failing lately says so.
    """

    stats: ToolStats | None = None
    threshold: int = 3
    cooldown_s: float = 300.0

    def __call__(self, tools: Sequence[BaseTool]) -> list[BaseTool]:
        health = {t.name: self._health(t.name) for t in tools}
        healthy = [t for t in tools if not health[t.name][1]] or list(tools)
        rates = {t.name: 1.0 / (1 + health[t.name][0]) for t in healthy}
        ranked = sorted(healthy, key=lambda t: (-rates[t.name], meta_of(t).cost))
        jobs: set[str] = set()
        offered = []
        for tool in ranked:
            job = meta_of(tool).job
            if job is None or job not in jobs:
                offered.append(tool)
                jobs.add(job or "")
        costs = sorted(meta_of(t).cost for t in offered)
        cheap_limit = costs[(len(costs) - 1) // 2] if costs else 0.0
        differ = bool(costs) and costs[0] < costs[-1]
        return [self._labelled(t, differ, cheap_limit, rates[t.name]) for t in offered]

    def _health(self, name: str) -> tuple[int, bool]:
        """Latest failures in a row, and whether the breaker withholds the tool."""
        if self.stats is None:
            return 0, False
        return self.stats.health(name, threshold=self.threshold, cooldown_s=self.cooldown_s)

    @staticmethod
    def _labelled(tool: BaseTool, differ: bool, cheap_limit: float, rate: float) -> BaseTool:
        notes = []
        if differ:
            notes.append("cheap" if meta_of(tool).cost <= cheap_limit else "expensive")
        if rate < 1.0:
            notes.append("failing lately")
        if not notes:
            return tool
        return tool.model_copy(update={"description": f"[{', '.join(notes)}] {tool.description}"})
