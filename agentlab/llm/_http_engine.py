"""An engine on llama.cpp's ``llama-server``: the same grammar-bound turns, over HTTP.

Each turn is a ``POST /completion`` with the prompt exactly as the chat model rendered it and
the GBNF grammar of its JSON schema, converted by the same function the in-process engine uses
(so both engines constrain turns identically). The server keeps one KV cache per slot; each
conversation goes to one slot, chosen by a stable hash of its LangGraph ``thread_id``, so its
prompt prefix is still cached at its next turn (``cache_prompt``), and ``timings.cache_n``
reports how many prompt tokens were reused. Calls made outside a graph run (no thread id) let
the server pick a slot.
"""

from __future__ import annotations

import contextvars
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import PurePath
from typing import Any

from agentlab.errors import BackendError, ContextOverflowError
from agentlab.llm._grammar import gbnf
from agentlab.llm._http import PROBE_TIMEOUT_S, ServerClient, current_thread_id
from agentlab.llm.engine import Completion

__all__ = ["HttpEngine", "slot_for"]

_side_call: contextvars.ContextVar[bool] = contextvars.ContextVar("side_call", default=False)


def slot_for(thread_id: str | None, slots: int, *, side: bool = False) -> int:
    """The slot of a conversation: a stable hash of its thread id (``-1``, any slot, without
    one). A side call takes the next slot, so the conversation's own slot keeps its prefix."""
    if thread_id is None or slots < 1:
        return -1
    slot = zlib.crc32(thread_id.encode("utf-8")) % slots
    return (slot + 1) % slots if side and slots > 1 else slot


class HttpEngine:
    """A :class:`~agentlab.llm.Engine` on a ``llama-server`` at ``url`` (such as
    ``http://127.0.0.1:8080``). Reads the slot count and context per slot from ``/props``."""

    def __init__(self, url: str, client: ServerClient | None = None) -> None:
        self.url = url.rstrip("/")
        self._client = client or ServerClient(self.url)
        props = self._client.get("/props", timeout=PROBE_TIMEOUT_S)
        try:
            self.slots = int(props.get("total_slots", 1))
            self._n_ctx = int(props["default_generation_settings"]["n_ctx"])
        except (KeyError, TypeError, ValueError):
            raise BackendError(
                f"{self.url}/props does not describe a llama-server (no total_slots and n_ctx); "
                "for an OpenAI-compatible server use --backend openai+URL"
            ) from None
        self._name = PurePath(str(props.get("model_path") or "llama-server")).name

    @property
    def name(self) -> str:
        return self._name

    @property
    def n_ctx(self) -> int:
        """Tokens one slot holds: a conversation's prompt and answer together."""
        return self._n_ctx

    @contextmanager
    def keeping_cache(self) -> Iterator[None]:
        """Side calls inside the block go to another slot (with one slot, they are not cached
        at all), leaving the conversation's slot and its cached prefix as they were."""
        token = _side_call.set(True)
        try:
            yield
        finally:
            _side_call.reset(token)

    def tokenize(self, text: str) -> list[int]:
        body = {"content": text, "add_special": False, "parse_special": True}
        tokens = self._client.post("/tokenize", body)["tokens"]
        return [int(t["id"]) if isinstance(t, dict) else int(t) for t in tokens]

    def complete(
        self,
        prompt: str,
        *,
        schema: str,
        max_tokens: int,
        temperature: float,
        on_text: Callable[[str], Any] | None = None,
    ) -> Completion:
        prompt_tokens = len(self.tokenize(prompt))
        if prompt_tokens + max_tokens > self.n_ctx:
            raise ContextOverflowError(
                f"the prompt has {prompt_tokens} tokens and the answer may need {max_tokens}, "
                f"but a slot of {self.url} holds {self.n_ctx}; raise its --ctx or shorten the input"
            )
        body = self.request(prompt, schema=schema, max_tokens=max_tokens, temperature=temperature)
        if on_text is None:
            return _completion(self._client.post("/completion", body))
        body["stream"] = True
        final: dict[str, Any] = {}
        for event in self._client.stream("/completion", body):
            if event.get("content"):
                on_text(event["content"])
            final = {**event, "content": final.get("content", "") + event.get("content", "")}
        if not final.get("stop"):
            raise BackendError(f"the model server at {self.url} ended the stream mid-answer")
        return _completion(final)

    def request(
        self, prompt: str, *, schema: str, max_tokens: int, temperature: float
    ) -> dict[str, Any]:
        """The body of ``POST /completion`` for one turn."""
        side = _side_call.get()
        slot = slot_for(current_thread_id(), self.slots, side=side)
        return {
            "prompt": prompt,
            "grammar": gbnf(schema),
            "n_predict": max_tokens,
            "temperature": temperature,
            "cache_prompt": not (side and self.slots == 1),
            "id_slot": slot,
        }


def _completion(result: dict[str, Any]) -> Completion:
    timings = result.get("timings") or {}
    cached = int(timings.get("cache_n", 0))
    return Completion(
        text=str(result.get("content", "")),
        prompt_tokens=cached + int(timings.get("prompt_n", 0)),
        reused_tokens=cached,
        completion_tokens=int(timings.get("predicted_n", result.get("tokens_predicted", 0))),
        prefill_ms=float(timings.get("prompt_ms", 0.0)),
        decode_ms=float(timings.get("predicted_ms", 0.0)),
        finish_reason="length" if result.get("stop_type") == "limit" else "stop",
    )
