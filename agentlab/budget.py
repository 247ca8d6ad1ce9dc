"""Per-run budgets: how many tool calls, tokens and seconds one run may spend."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RunBudget"]


@dataclass(frozen=True)
class RunBudget:
    """Limits of one run (``None``: unlimited). Tokens are prompt plus completion tokens of the
    run's model calls; seconds are wall time, not counting time spent waiting for approval."""

    max_tool_calls: int | None = None
    max_tokens: int | None = None
    max_wall_s: float | None = None

    def before_model(self, *, tokens: int, wall_s: float) -> str | None:
        """Why the run must stop before its next model call, or ``None``."""
        if self.max_tokens is not None and tokens >= self.max_tokens:
            return f"token budget reached: {tokens} of max_tokens={self.max_tokens} used"
        if self.max_wall_s is not None and wall_s >= self.max_wall_s:
            return f"time budget reached: {wall_s:.1f} s of max_wall_s={self.max_wall_s:g}"
        return None

    def before_tools(self, *, made: int, wanted: int) -> str | None:
        """Why the ``wanted`` new tool calls must not run after ``made`` ones, or ``None``."""
        if self.max_tool_calls is not None and made + wanted > self.max_tool_calls:
            return (
                f"tool-call budget reached: {made} calls made, max_tool_calls={self.max_tool_calls}"
            )
        return None
