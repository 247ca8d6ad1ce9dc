"""The agent patterns' own command-line options: reflexion's checker, multi-agent's team."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool

from agentlab.errors import UsageError
from agentlab.graphs.multi_agent import team_from_config
from agentlab.graphs.reflexion import expect_all

__all__ = ["pattern_options"]


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
