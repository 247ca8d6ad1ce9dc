"""JSON-lines run traces: one event per model call and per tool call, and their usage totals.

The tracer is a LangChain callback handler, so it sees every model and tool call of any graph
it is passed to (``config={"callbacks": [tracer]}``), with no global state.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import structlog
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage
from langchain_core.outputs import LLMResult

__all__ = ["SUMMARY_TAG", "TOOL_CALL_EVENT", "Tracer", "Usage"]

TOOL_CALL_EVENT = "agentlab_tool_call"
"""Custom callback event that agentlab's tool runner dispatches once per call, whatever its
outcome (also a timeout, an unknown tool or a journaled replay, where the tool's own callbacks
never fire): ``{"name", "args", "ms", "ok", "error", "attempts"}``."""

SUMMARY_TAG = "agentlab:context-summary"  # tags the model calls that write context summaries


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reused_prompt_tokens: int = 0
    prefill_ms: float = 0.0
    decode_ms: float = 0.0
    model_calls: int = 0  # agent steps; the context manager's summary calls are not steps

    def as_dict(self) -> dict[str, int | float]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "reused_prompt_tokens": self.reused_prompt_tokens,
            "prefill_ms": round(self.prefill_ms, 1),
            "decode_ms": round(self.decode_ms, 1),
        }


class Tracer(BaseCallbackHandler):
    """Writes ``model_call`` and ``tool_call`` events to a JSON-lines file and sums usage."""

    def __init__(self, path: Path | None = None, **context: Any) -> None:
        self.usage = Usage()
        self.path = path
        self._file: IO[str] | None = None
        self._started: dict[UUID, tuple[str, Any, float]] = {}
        self._lock = threading.Lock()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")
        self._log = structlog.wrap_logger(
            structlog.WriteLogger(self._file) if self._file else structlog.ReturnLogger(),
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.JSONRenderer(),
            ],
        ).bind(**context)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def event(self, event: str, /, **fields: Any) -> None:
        with self._lock:
            self._log.info(event, **fields)
            if self._file is not None:
                self._file.flush()

    def on_llm_end(
        self, response: LLMResult, *, run_id: UUID, tags: list[str] | None = None, **kwargs: Any
    ) -> None:
        generation = response.generations[0][0] if response.generations else None
        message = getattr(generation, "message", None)
        if not isinstance(message, AIMessage):
            return
        usage: Mapping[str, Any] = message.usage_metadata or {}
        prompt = int(usage.get("input_tokens", 0))
        completion = int(usage.get("output_tokens", 0))
        reused = int((usage.get("input_token_details") or {}).get("cache_read", 0) or 0)
        meta = message.response_metadata
        summary = SUMMARY_TAG in (tags or [])
        with self._lock:
            self.usage.prompt_tokens += prompt
            self.usage.completion_tokens += completion
            self.usage.reused_prompt_tokens += reused
            self.usage.prefill_ms += float(meta.get("prefill_ms") or 0.0)
            self.usage.decode_ms += float(meta.get("decode_ms") or 0.0)
            self.usage.model_calls += 0 if summary else 1
        self.event(
            "summary_call" if summary else "model_call",
            model=meta.get("model_name"),
            prompt_tokens=prompt,
            reused_prompt_tokens=reused,
            completion_tokens=completion,
            prefill_ms=meta.get("prefill_ms"),
            decode_ms=meta.get("decode_ms"),
            tool_calls=[call["name"] for call in message.tool_calls],
            loop_breaker=bool(meta.get("loop_breaker")),
        )

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if name == TOOL_CALL_EVENT and isinstance(data, dict):  # agentlab's tool runner
            self.event("tool_call", **data)

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = str((serialized or {}).get("name") or kwargs.get("name") or "tool")
        with self._lock:
            self._started[run_id] = (
                name,
                inputs if inputs is not None else input_str,
                time.perf_counter(),
            )

    def _finish(self, run_id: UUID, ok: bool, detail: str) -> None:
        with self._lock:
            name, args, started = self._started.pop(run_id, ("tool", None, time.perf_counter()))
        ms = round((time.perf_counter() - started) * 1000, 1)
        fields: dict[str, Any] = {"name": name, "args": args, "ms": ms, "ok": ok}
        fields["error" if not ok else "result_chars"] = detail if not ok else len(detail)
        self.event("tool_call", **fields)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        content = getattr(output, "content", output)
        status = getattr(output, "status", "success")
        self._finish(run_id, status != "error", str(content))

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._finish(run_id, False, f"{type(error).__name__}: {error}")
