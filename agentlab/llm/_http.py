"""What the server engines share: one HTTP client whose failures name the server, and the
conversation a model call belongs to.

A lost connection, a timeout or an error status becomes a :class:`~agentlab.errors.BackendError`
naming the URL, so a run ends ``failed`` with a message that says which server to look at (and
the checkpoint keeps every completed step for ``agentlab resume``).
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
from langchain_core.runnables.config import var_child_runnable_config

from agentlab.errors import BackendError, ContextOverflowError

__all__ = ["PROBE_TIMEOUT_S", "ServerClient", "current_thread_id"]

_CONNECT_TIMEOUT_S = 5.0
PROBE_TIMEOUT_S = 10.0  # the first request (server properties): a server that never answers
_GENERATE_TIMEOUT_S = 600.0  # a long turn on a busy CPU server, between two bytes


class ServerClient:
    """JSON over HTTP to one server at ``base_url``, from threads (``post``, ``stream``) or
    from event loops (``apost``, ``astream``: an async client per loop, since an async
    client's connections belong to the loop that opened them)."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._options: dict[str, Any] = {
            "base_url": self.base_url,
            "timeout": httpx.Timeout(_GENERATE_TIMEOUT_S, connect=_CONNECT_TIMEOUT_S),
            "headers": headers,
        }
        self._client = httpx.Client(**self._options)
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]
        self._async = weakref.WeakKeyDictionary()

    def get(self, path: str, *, timeout: float | None = None) -> Any:
        return self._send("GET", path, None, timeout)

    def post(self, path: str, body: dict[str, Any], *, timeout: float | None = None) -> Any:
        return self._send("POST", path, body, timeout)

    def stream(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The JSON events of a server-sent event stream (``data: {...}`` lines)."""
        try:
            with self._client.stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    self._raise_status(path, response)
                for line in response.iter_lines():
                    event = _event(line)
                    if event is not None:
                        yield event
        except httpx.HTTPError as exc:
            raise self._unreachable(path, exc) from None

    async def apost(self, path: str, body: dict[str, Any]) -> Any:
        """``post`` without blocking the running event loop."""
        try:
            response = await self._loop_client().post(path, json=body)
        except httpx.HTTPError as exc:
            raise self._unreachable(path, exc) from None
        return self._json(path, response)

    async def astream(self, path: str, body: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """``stream`` without blocking the running event loop."""
        try:
            async with self._loop_client().stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    self._raise_status(path, response)
                async for line in response.aiter_lines():
                    event = _event(line)
                    if event is not None:
                        yield event
        except httpx.HTTPError as exc:
            raise self._unreachable(path, exc) from None

    def close(self) -> None:
        self._client.close()

    def _loop_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            client = self._async[loop] = httpx.AsyncClient(**self._options)
        return client

    def _send(
        self, method: str, path: str, body: dict[str, Any] | None, timeout: float | None
    ) -> Any:
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        try:
            response = self._client.request(method, path, json=body, **extra)
        except httpx.HTTPError as exc:
            raise self._unreachable(path, exc) from None
        return self._json(path, response)

    def _json(self, path: str, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            self._raise_status(path, response)
        try:
            return response.json()
        except ValueError:
            raise BackendError(
                f"the model server at {self.base_url} answered {path} with something other "
                f"than JSON: {response.text[:200]!r}"
            ) from None

    def _unreachable(self, path: str, exc: httpx.HTTPError) -> BackendError:
        if isinstance(exc, httpx.TimeoutException):
            why = f"did not answer {path} in time ({type(exc).__name__})"
        elif isinstance(exc, httpx.ConnectError):
            why = "refused or could not be reached; is it running?"
        else:
            why = f"dropped the connection during {path} ({type(exc).__name__}: {exc})"
        return BackendError(f"the model server at {self.base_url} {why}")

    def _raise_status(self, path: str, response: httpx.Response) -> None:
        message = _error_message(response)
        if any(words in message.lower() for words in ("context size", "context length")):
            raise ContextOverflowError(f"the model server at {self.base_url}: {message}")
        raise BackendError(
            f"the model server at {self.base_url} answered {path} with HTTP "
            f"{response.status_code}: {message}"
        )


def _event(line: str) -> dict[str, Any] | None:
    """The JSON of a server-sent event line (``data: {...}``); ``None`` for other lines."""
    data = line.removeprefix("data:").strip()
    if line.startswith("data:") and data and data != "[DONE]":
        return dict(json.loads(data))
    return None


def _error_message(response: httpx.Response) -> str:
    """The server's own words: llama-server and OpenAI-compatible servers send
    ``{"error": {"message": ...}}``; others plain text."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str):
        return error
    return json.dumps(body)[:300]


def current_thread_id() -> str | None:
    """The ``thread_id`` of the LangGraph run this model call is part of, or ``None``.

    LangChain keeps the running config in a context variable that LangGraph sets for each node
    (and copies into the threads that run nodes), so an engine called from a chat model inside
    a graph sees ``configurable.thread_id`` without it being passed through every layer.
    """
    config = var_child_runnable_config.get()
    if not config:
        return None
    thread = config.get("configurable", {}).get("thread_id")
    return None if thread is None else str(thread)
