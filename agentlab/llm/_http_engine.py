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
from collections.abc import Awaitable, Callable, Iterator, Sized
from contextlib import contextmanager
from pathlib import PurePath
from typing import Any

from agentlab.errors import BackendError, ContextOverflowError
from agentlab.llm._grammar import converter, gbnf
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
        converter()  # imported now, not on an event loop at the first awaited turn

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
        tokens = self._client.post("/tokenize", _tokenize_request(text))["tokens"]
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
        self._check_fits(self.tokenize(prompt), max_tokens)
        body = self.request(prompt, schema=schema, max_tokens=max_tokens, temperature=temperature)
        if on_text is None:
            return _completion(self._client.post("/completion", body))
        stream = _Stream(self.url)
        for event in self._client.stream("/completion", {**body, "stream": True}):
            if piece := stream.add(event):
                on_text(piece)
        return stream.completion()

    async def acomplete(
        self,
        prompt: str,
        *,
        schema: str,
        max_tokens: int,
        temperature: float,
        on_text: Callable[[str], Awaitable[Any]] | None = None,
    ) -> Completion:
        tokens = (await self._client.apost("/tokenize", _tokenize_request(prompt)))["tokens"]
        self._check_fits(tokens, max_tokens)
        body = self.request(prompt, schema=schema, max_tokens=max_tokens, temperature=temperature)
        if on_text is None:
            return _completion(await self._client.apost("/completion", body))
        stream = _Stream(self.url)
        async for event in self._client.astream("/completion", {**body, "stream": True}):
            if piece := stream.add(event):
                await on_text(piece)
        return stream.completion()

    def _check_fits(self, prompt_tokens: Sized, max_tokens: int) -> None:
        if len(prompt_tokens) + max_tokens > self.n_ctx:
            raise ContextOverflowError(
                f"the prompt has {len(prompt_tokens)} tokens and the answer may need "
                f"{max_tokens}, but a slot of {self.url} holds {self.n_ctx}; raise its --ctx "
                "or shorten the input"
            )

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


def _tokenize_request(text: str) -> dict[str, Any]:
    return {"content": text, "add_special": False, "parse_special": True}


class _Stream:
    """A streamed turn, event by event: its text so far and the last event's timings."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.final: dict[str, Any] = {}

    def add(self, event: dict[str, Any]) -> str:
        """Take in ``event``; return its new text."""
        piece = str(event.get("content") or "")
        self.final = {**event, "content": self.final.get("content", "") + piece}
        return piece

    def completion(self) -> Completion:
        if not self.final.get("stop"):
            raise BackendError(f"the model server at {self.url} ended the stream mid-answer")
        return _completion(self.final)


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
