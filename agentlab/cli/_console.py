"""Readable live output of a run: streamed model tokens and one line per tool call."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult
from rich.console import Console
from rich.markup import escape

from agentlab.tracing import TOOL_CALL_EVENT

__all__ = ["ConsoleTrace"]


class ConsoleTrace(BaseCallbackHandler):
    """Prints each model turn as it streams, then the tool calls and their results."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.step = 0

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kwargs: Any
    ) -> None:
        self.step += 1
        self.console.print(f"[bold cyan]step {self.step}[/] ", end="")

    def on_llm_new_token(self, token: str | list[str | dict[str, Any]], **kwargs: Any) -> None:
        if isinstance(token, str):  # LlamaChatModel streams text, never content-block lists
            self.console.print(escape(token), end="", style="dim", soft_wrap=True, highlight=False)

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        self.console.print()

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if name == TOOL_CALL_EVENT and isinstance(data, dict):
            ok = bool(data.get("ok"))
            text = "ok" if ok else str(data.get("error"))
            style = "green" if ok else "red"
            self.console.print(
                f"  [{style}]{escape(str(data.get('name')))} → {escape(text[:300])}[/]"
            )

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        name = getattr(output, "name", None) or kwargs.get("name", "tool")
        text = str(getattr(output, "content", output))
        failed = getattr(output, "status", "success") == "error"
        style = "red" if failed else "green"
        self.console.print(f"  [{style}]{escape(str(name))} → {escape(text[:300])}[/]")

    def on_tool_error(self, error: BaseException, **kwargs: Any) -> None:
        self.console.print(f"  [red]{escape(type(error).__name__)}: {escape(str(error)[:300])}[/]")
