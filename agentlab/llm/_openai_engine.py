"""An engine on an OpenAI-compatible completions server such as vLLM.

Each turn is a ``POST {base}/completions`` with the prompt exactly as the chat model rendered
it (the chat template stays on this side, as with every engine) and the turn's JSON schema as a
structured output. The request body is built for vLLM: ``structured_outputs: {"json": ...}``.
Its older ``guided_json`` is gone, and vLLM ignores fields it does not know, so a wrong field
would silently decode without any constraint: the contract tests pin the exact body.

vLLM caches prompt prefixes on its own (automatic prefix caching); the reused tokens come from
``usage.prompt_tokens_details.cached_tokens`` (reported when vLLM runs with
``--enable-prompt-tokens-details``). Tokens are counted by vLLM's ``/tokenize``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterator, Sized
from contextlib import contextmanager
from typing import Any

from agentlab.errors import BackendError, ContextOverflowError
from agentlab.llm._http import PROBE_TIMEOUT_S, ServerClient
from agentlab.llm.engine import Completion

__all__ = ["OpenAIEngine", "completion_of"]


class OpenAIEngine:
    """A :class:`~agentlab.llm.Engine` on the OpenAI-compatible API at ``base_url`` (ending in
    ``/v1``). The model is the server's first (``/v1/models``) unless ``model`` names one."""

    def __init__(self, base_url: str, model: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = ServerClient(self.base_url)
        self._root = ServerClient(self.base_url.removesuffix("/v1"))  # /tokenize is not under /v1
        listed = self._client.get("/models", timeout=PROBE_TIMEOUT_S).get("data") or []
        chosen = next((m for m in listed if model is None or m.get("id") == model), None)
        if chosen is None:
            served = ", ".join(str(m.get("id")) for m in listed) or "none"
            raise BackendError(
                f"the server at {self.base_url} does not serve "
                f"{model or 'any model'} (it serves: {served})"
            )
        self.model = str(chosen["id"])
        self._n_ctx = int(chosen.get("max_model_len") or 0)

    @property
    def name(self) -> str:
        return self.model

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @contextmanager
    def keeping_cache(self) -> Iterator[None]:
        """Nothing to do: the server's prefix cache is shared by every request and keeps
        a conversation's prefix across side calls by itself."""
        yield

    def tokenize(self, text: str) -> list[int]:
        tokens = self._root.post("/tokenize", self._tokenize_request(text))["tokens"]
        return [int(t) for t in tokens]

    def complete(
        self,
        prompt: str,
        *,
        schema: str,
        max_tokens: int,
        temperature: float,
        on_text: Callable[[str], Any] | None = None,
    ) -> Completion:
        if self.n_ctx:
            self._check_fits(self.tokenize(prompt), max_tokens)
        body = self.request(prompt, schema=schema, max_tokens=max_tokens, temperature=temperature)
        started = time.perf_counter()
        if on_text is None:
            result = self._client.post("/completions", body)
            return completion_of(result, wall_ms=(time.perf_counter() - started) * 1000)
        stream = _Stream(started)
        for event in self._client.stream("/completions", stream.request(body)):
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
        if self.n_ctx:
            tokenized = await self._root.apost("/tokenize", self._tokenize_request(prompt))
            self._check_fits(tokenized["tokens"], max_tokens)
        body = self.request(prompt, schema=schema, max_tokens=max_tokens, temperature=temperature)
        started = time.perf_counter()
        if on_text is None:
            result = await self._client.apost("/completions", body)
            return completion_of(result, wall_ms=(time.perf_counter() - started) * 1000)
        stream = _Stream(started)
        async for event in self._client.astream("/completions", stream.request(body)):
            if piece := stream.add(event):
                await on_text(piece)
        return stream.completion()

    def request(
        self, prompt: str, *, schema: str, max_tokens: int, temperature: float
    ) -> dict[str, Any]:
        """The body of ``POST /v1/completions`` for one turn."""
        return {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "structured_outputs": {"json": json.loads(schema)},
        }

    def _tokenize_request(self, text: str) -> dict[str, Any]:
        return {"model": self.model, "prompt": text, "add_special_tokens": False}

    def _check_fits(self, prompt_tokens: Sized, max_tokens: int) -> None:
        if len(prompt_tokens) + max_tokens > self.n_ctx:
            raise ContextOverflowError(
                f"the prompt has {len(prompt_tokens)} tokens and the answer may need "
                f"{max_tokens}, but {self.model} at {self.base_url} holds {self.n_ctx}"
            )


class _Stream:
    """A streamed turn, event by event: its text, finish reason and usage, and when the first
    text came (the end of prefill)."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.text, self.finish, self.usage = "", None, None
        self.first_at: float | None = None

    @staticmethod
    def request(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "stream": True, "stream_options": {"include_usage": True}}

    def add(self, event: dict[str, Any]) -> str:
        """Take in ``event``; return its new text."""
        piece = ""
        for choice in event.get("choices") or []:
            if choice.get("text"):
                self.first_at = self.first_at or time.perf_counter()
                piece += choice["text"]
            self.finish = choice.get("finish_reason") or self.finish
        self.usage = event.get("usage") or self.usage
        self.text += piece
        return piece

    def completion(self) -> Completion:
        ended = time.perf_counter()
        first_at = self.first_at or ended
        result = {"choices": [{"text": self.text, "finish_reason": self.finish}],
                  "usage": self.usage or {}}  # fmt: skip
        return completion_of(
            result, wall_ms=(ended - first_at) * 1000, prefill_ms=(first_at - self.started) * 1000
        )


def completion_of(result: dict[str, Any], *, wall_ms: float, prefill_ms: float = 0.0) -> Completion:
    """A completions response as a :class:`Completion`; the API reports no timings, so the time
    until the first streamed text counts as prefill and the rest (or all of it) as decode."""
    try:
        choice = result["choices"][0]
    except (KeyError, IndexError, TypeError):
        raise BackendError(f"a completions response without choices: {str(result)[:200]}") from None
    usage = result.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    return Completion(
        text=str(choice.get("text") or ""),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        reused_tokens=int(details.get("cached_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        prefill_ms=prefill_ms,
        decode_ms=wall_ms,
        finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
    )
