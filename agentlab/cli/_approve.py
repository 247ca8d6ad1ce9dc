"""Answering a pending tool call: from ``resume`` flags or by asking on the terminal."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.tools import BaseTool
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape

from agentlab.errors import UsageError

__all__ = ["ask_decision", "decision_from_flags", "describe_pending"]


def describe_pending(pending: dict[str, Any]) -> str:
    return f"{pending['name']}({json.dumps(pending['args'], ensure_ascii=False)})"


def decision_from_flags(
    approve: bool, reject: str | None, edit: str | None, tools: Sequence[BaseTool], name: str
) -> dict[str, Any] | None:
    """The decision the flags give (at most one of them), or ``None`` when none is given."""
    given = [flag for flag, on in (("--approve", approve), ("--reject", reject is not None),
                                   ("--edit", edit is not None)) if on]  # fmt: skip
    if len(given) > 1:
        raise UsageError(f"give one decision, not {' and '.join(given)}")
    if approve:
        return {"action": "approve"}
    if reject is not None:
        if not reject.strip():
            raise UsageError("--reject needs a reason; the model reads it")
        return {"action": "reject", "reason": reject}
    if edit is not None:
        return {"action": "edit", "args": _edited_args(edit, tools, name)}
    return None


def _edited_args(text: str, tools: Sequence[BaseTool], name: str) -> dict[str, Any]:
    try:
        args = json.loads(text)
    except json.JSONDecodeError as exc:
        example = '{"city": "Oslo"}'
        raise UsageError(f"--edit is not valid JSON ({exc.msg}); e.g. '{example}'") from None
    if not isinstance(args, dict):
        raise UsageError('--edit must be a JSON object of arguments, e.g. \'{"city": "Oslo"}\'')
    tool = next((t for t in tools if t.name == name), None)
    schema = tool.args_schema if tool is not None else None
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        try:
            schema.model_validate(args)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'args'}: {e['msg']}" for e in exc.errors()
            )
            raise UsageError(f"--edit arguments do not fit {name}: {problems}") from None
    return args


def ask_decision(
    console: Console, pending: dict[str, Any], tools: Sequence[BaseTool]
) -> dict[str, Any] | None:
    """Ask on the terminal until the answer is valid; ``None`` when input ends (Ctrl-D)."""
    console.print(f"[bold yellow]approval needed:[/] {escape(describe_pending(pending))}")
    while True:
        try:
            choice = console.input("approve (a) / edit arguments (e) / reject (r)? ").strip()
            if choice in ("a", "approve", "y", "yes"):
                return {"action": "approve"}
            if choice in ("r", "reject", "n", "no"):
                reason = console.input("reason (the model reads it): ").strip()
                return {"action": "reject", "reason": reason or "rejected by the user"}
            if choice in ("e", "edit"):
                text = console.input("arguments as JSON: ")
                try:
                    return {"action": "edit", "args": _edited_args(text, tools, pending["name"])}
                except UsageError as exc:
                    console.print(f"[red]{escape(str(exc))}[/]")
        except EOFError:
            return None
