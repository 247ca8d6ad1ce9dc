"""The engine a ``backend`` URL names.

``http://HOST:PORT`` (or ``https://``) is a llama.cpp ``llama-server`` (``agentlab serve-model``
starts one); ``openai+http://HOST:PORT/v1`` is an OpenAI-compatible completions server such as
vLLM. The scheme says which request body to build: the two servers take different fields for
the same grammar constraint.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from agentlab.llm.engine import Engine

__all__ = ["OPENAI_PREFIX", "check_backend", "engine_for_backend"]

OPENAI_PREFIX = "openai+"


def check_backend(url: str) -> str:
    """``url`` if it names a backend this module can speak to, else a ``ValueError`` that
    says which forms are known."""
    parts = urlsplit(url.removeprefix(OPENAI_PREFIX))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"{url!r} is not a backend URL: use http://HOST:PORT for llama-server or "
            "openai+http://HOST:PORT/v1 for an OpenAI-compatible server such as vLLM"
        )
    return url


def engine_for_backend(url: str) -> Engine:
    """The engine on the server at ``url`` (it is asked for its properties at once, so a server
    that does not answer fails here, before a run starts)."""
    check_backend(url)
    if url.startswith(OPENAI_PREFIX):
        from agentlab.llm._openai_engine import OpenAIEngine

        return OpenAIEngine(url.removeprefix(OPENAI_PREFIX))
    from agentlab.llm._http_engine import HttpEngine

    return HttpEngine(url)
