"""``agentlab tools list|stats``: the tools available, their metadata, and how they fared."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Annotated, Any

import typer
from langchain_core.tools import BaseTool
from rich.console import Console
from rich.table import Table

from agentlab.cli._options import JsonOpt
from agentlab.config import load_settings
from agentlab.tools import ApprovalPolicy, ToolStats, discover_plugins, load_tools, meta_of

__all__ = ["tools_app"]

tools_app = typer.Typer(help="Tools: what is available and how it performed.", no_args_is_help=True)
out = Console(highlight=False)

BUILTIN = ("agentlab.tools.demo:TOOLS", "agentlab.tools.python_exec:python_exec")


def _row(tool: BaseTool, source: str, policy: ApprovalPolicy) -> dict[str, Any]:
    meta = meta_of(tool)
    return {
        "name": tool.name,
        "source": source,
        **asdict(meta),
        "needs_approval": policy(tool, {}),
        "description": " ".join((tool.description or "").split())[:120],
    }


@tools_app.command("list")
def list_(
    tools: Annotated[
        str | None, typer.Option("--tools", help="also show these MODULE:ATTR[,...] tools")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Built-in tools, installed plugins (entry-point group agentlab.tools) and --tools."""
    settings = load_settings()
    policy = ApprovalPolicy.of(settings.approval, settings.approve_tools, settings.auto_tools)
    rows = [_row(t, spec, policy) for spec in BUILTIN for t in load_tools(spec)]
    broken = []
    for plugin in discover_plugins():
        source = f"plugin {plugin.entry_point}" + (
            f" ({plugin.distribution})" if plugin.distribution else ""
        )
        if plugin.error:
            broken.append({"source": source, "error": plugin.error})
        rows += [_row(t, source, policy) for t in plugin.tools]
    if tools:
        rows += [_row(t, f"--tools {tools}", policy) for t in load_tools(tools)]
    if as_json:
        sys.stdout.write(json.dumps({"tools": rows, "broken_plugins": broken}) + "\n")
        return
    table = Table("tool", "side effects", "approval", "timeout s", "cost", "source")
    for row in rows:
        approval = "yes" if row["needs_approval"] else "no"
        table.add_row(row["name"], row["side_effects"], approval, f"{row['timeout_s']:g}",
                      f"{row['cost']:g}", row["source"])  # fmt: skip
    out.print(table)
    for item in broken:
        out.print(f"[red]broken {item['source']}: {item['error']}[/]")


@tools_app.command("stats")
def stats(
    as_json: JsonOpt = False,
) -> None:
    """Per-tool calls, success rate, latency and cost, recorded under AGENTLAB_HOME."""
    settings = load_settings()
    if settings.database_url is None and not settings.tool_db_path.exists():
        rows: list[dict[str, Any]] = []
    else:
        with ToolStats(settings.database_url or settings.tool_db_path) as store:
            rows = [{**asdict(s), "withheld": store.is_open(s.name)} for s in store.summary()]
    if as_json:
        sys.stdout.write(json.dumps({"tools": rows}) + "\n")
        return
    if not rows:
        out.print("no tool calls recorded yet")
        return
    table = Table(
        "tool", "calls", "success", "p50 ms", "p95 ms", "mean cost", "state", "last error"
    )
    for row in rows:
        state = "withheld (failing)" if row["withheld"] else "ok"
        table.add_row(row["name"], str(row["calls"]), f"{row['success_rate']:.0%}",
                      f"{row['p50_ms']:.0f}", f"{row['p95_ms']:.0f}", f"{row['mean_cost']:g}",
                      state, (row["last_error"] or "")[:60])  # fmt: skip
    out.print(table)
