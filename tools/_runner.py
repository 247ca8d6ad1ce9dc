"""Running one tool call safely: a timeout, retries of transient failures, bounded text output,
a journal entry (so a resumed run never repeats a call) and a statistics record."""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from langchain_core.callbacks import dispatch_custom_event
from langchain_core.messages import ToolCall, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.errors import GraphBubbleUp
from pydantic import ValidationError

from agentlab.errors import ToolTimeoutError, TransientToolError
from agentlab.tools._ledger import CallLedger
from agentlab.tools._meta import meta_of
from agentlab.tracing import TOOL_CALL_EVENT

__all__ = [
    "MAX_OUTPUT_CHARS",
    "StatsSink",
    "ToolRunner",
    "format_tool_error",
]


MAX_OUTPUT_CHARS = 100_000
"""Longer outputs are cut before anything else looks at them (a tool returning 50 MB must not
reach the tokenizer); the context window cuts again to its token limit."""

_TRANSIENT = (TransientToolError, ConnectionError, TimeoutError)


class StatsSink(Protocol):
    def record(
        self,
        name: str,
        *,
        ms: float,
        ok: bool,
        cost: float,
        error: str | None = None,
        available: bool | None = None,
    ) -> None: ...


def format_tool_error(exc: BaseException) -> str:
    """What the model reads when a tool call fails: short, and says what to fix."""
    invalid = _invalid_arguments(exc)
    if invalid is not None:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in invalid.errors()
        )
        return f"invalid arguments: {problems}"
    return f"{type(exc).__name__}: {exc}"


def _invalid_arguments(exc: BaseException) -> ValidationError | None:
    """The schema error behind ``exc``, when the arguments did not fit the tool's schema."""
    source = getattr(exc, "source", None)  # ToolNode wraps argument errors
    if isinstance(source, ValidationError):
        return source
    return exc if isinstance(exc, ValidationError) else None


class ToolRunner:
    """Runs the model's tool calls against ``tools``; never raises for a tool's failure.

    Every failure (unknown tool, invalid arguments, an exception, a timeout) comes back as a
    ``ToolMessage`` with ``status="error"`` that tells the model what went wrong. A hung call
    cannot be killed inside the process (Python threads cannot be stopped): it is abandoned
    on a daemon thread and its late result discarded. Code that must be killed belongs in a
    subprocess, as ``python_exec`` does. Transient failures are retried here, per call, rather
    than by a LangGraph ``RetryPolicy`` on the node: a node retry would re-run every call of the
    step, approved acting ones included.
    """

    def __init__(
        self,
        tools: Sequence[BaseTool],
        *,
        ledger: CallLedger | None = None,
        stats: StatsSink | None = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff_s: float = 0.5,
    ) -> None:
        self.tools = {t.name: t for t in tools}
        self.ledger = ledger
        self.stats = stats
        self._sleep = sleep
        self._backoff_s = backoff_s

    def run(self, call: ToolCall, config: RunnableConfig | None = None) -> ToolMessage:
        started = time.perf_counter()
        content, ok, attempts, rejected = self._outcome(call, config)
        if config is not None and config.get("callbacks"):
            dispatch_custom_event(
                TOOL_CALL_EVENT,
                {"name": call["name"], "args": call["args"],
                 "ms": round((time.perf_counter() - started) * 1000, 1), "ok": ok,
                 "error": None if ok else content, "attempts": attempts},
                config=config,
            )  # fmt: skip
        return _reply(call, content, ok=ok, rejected=rejected)

    def _outcome(
        self, call: ToolCall, config: RunnableConfig | None
    ) -> tuple[str, bool, int, bool]:
        """The call's text, whether it succeeded, its attempts, and whether the tool itself
        raised on the arguments it was given (not a timeout, an outage or a bad schema)."""
        call_id = call.get("id") or ""
        tool = self.tools.get(call["name"])
        if tool is None:
            known = ", ".join(sorted(self.tools)) or "none"
            return f"unknown tool {call['name']!r}; available: {known}", False, 0, False
        earlier = self.ledger.begin(call_id, call["name"], call["args"]) if self.ledger else None
        if earlier is not None:
            if earlier.state == "done" and earlier.content is not None:
                return earlier.content, bool(earlier.ok), 0, False
            unknown = (
                "this call was started before the run stopped and its outcome is unknown; it was "
                "not run again (check its effect before retrying)"
            )
            return unknown, False, 0, False
        content, ok, attempts, rejected = self._attempts(tool, call, config)
        if self.ledger:
            self.ledger.finish(call_id, ok=ok, content=content)
        return content, ok, attempts, rejected

    def _attempts(
        self, tool: BaseTool, call: ToolCall, config: RunnableConfig | None
    ) -> tuple[str, bool, int, bool]:
        meta = meta_of(tool)
        quiet: RunnableConfig = {**(config or {}), "callbacks": None}  # the runner reports
        attempt, rejected = 0, False
        for attempt in range(meta.retries + 1):
            started = time.perf_counter()
            try:
                content, ok = _text(self._invoke(tool, call, quiet, meta.timeout_s)), True
            except GraphBubbleUp:  # an interrupt() inside the tool: LangGraph's, not a failure
                raise
            except Exception as exc:
                content, ok = format_tool_error(exc), False
                down = isinstance(exc, (*_TRANSIENT, ToolTimeoutError))  # not the input's fault
                rejected = not down and _invalid_arguments(exc) is None
                retry = isinstance(exc, _TRANSIENT) and attempt < meta.retries
            else:
                down = retry = False
            ms = (time.perf_counter() - started) * 1000
            if self.stats:
                self.stats.record(
                    tool.name, ms=ms, ok=ok, cost=meta.cost, error=None if ok else content,
                    available=not down,
                )  # fmt: skip
            if not retry:
                break
            self._sleep(self._backoff_s * 2**attempt)
        return content, ok, attempt + 1, rejected

    @staticmethod
    def _invoke(
        tool: BaseTool, call: ToolCall, config: RunnableConfig | None, timeout_s: float
    ) -> Any:
        box: dict[str, Any] = {}
        finished = threading.Event()
        context = contextvars.copy_context()  # keeps LangGraph's run context in the thread

        def target() -> None:
            try:
                box["value"] = context.run(tool.invoke, call["args"], config)
            except BaseException as exc:
                box["error"] = exc
            finally:
                finished.set()

        threading.Thread(target=target, name=f"tool-{tool.name}", daemon=True).start()
        if not finished.wait(timeout_s):
            # Not retried: the abandoned call may still be running.
            raise ToolTimeoutError(f"{tool.name} did not finish within {timeout_s:g} s")
        if "error" in box:
            raise box["error"]
        return box.get("value")


def _text(value: Any) -> str:
    """Any tool output as bounded text; bytes that are not UTF-8 never break the run."""
    if isinstance(value, ToolMessage):
        value = value.content
    if isinstance(value, bytes | bytearray):
        size, unit = len(value), "bytes"
        text = bytes(value[:MAX_OUTPUT_CHARS]).decode("utf-8", errors="replace")
    else:
        text = value if isinstance(value, str) else str(value)
        size, unit = len(text), "characters"
    if size > MAX_OUTPUT_CHARS:
        return text[:MAX_OUTPUT_CHARS] + f"\n[... cut: the output has {size:,} {unit}]"
    return text


def _reply(call: ToolCall, content: str, *, ok: bool, rejected: bool) -> ToolMessage:
    """The call's result; ``additional_kwargs["rejected"]`` marks an error the tool itself
    raised on its arguments (an unknown name, a value out of range)."""
    return ToolMessage(
        content=content,
        name=call["name"],
        tool_call_id=call.get("id") or "",
        status="success" if ok else "error",
        additional_kwargs={"rejected": True} if rejected else {},
    )
