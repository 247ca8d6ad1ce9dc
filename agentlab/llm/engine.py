"""What ``LlamaChatModel`` needs from whatever runs the model: the ``Engine`` protocol.

The chat model renders prompts, builds the JSON schema of each turn and parses the answers; an
engine only completes a prompt under a schema, tokenizes, and keeps its prefix cache. llama.cpp
in-process (:class:`~agentlab.llm.LlamaEngine`) is one engine; a server backend (llama.cpp's
``llama-server``, an OpenAI-compatible server) is another, sending the schema as its grammar or
structured-output field. ``agentlab.testing.ScriptedEngine`` replays scripted turns. An engine
that can wait for a turn without holding a thread (the server backends) is also an
:class:`AsyncEngine`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

__all__ = ["AsyncEngine", "Completion", "Engine"]


@dataclass(frozen=True)
class Completion:
    """One model turn and what it cost."""

    text: str
    prompt_tokens: int
    reused_tokens: int  # prompt tokens served from the engine's prefix cache
    completion_tokens: int
    prefill_ms: float
    decode_ms: float
    finish_reason: str  # "stop", "length", or "abandoned" (see ``LlamaEngine.complete``)
    # (character offset, logit margin) of each token where the grammar left the model a choice,
    # from an engine asked to measure them (see ``LlamaEngine.measure_choices``)
    choices: tuple[tuple[int, float], ...] = ()
    model: str = ""  # the model that wrote ``text``, where an engine routes between several


@runtime_checkable
class Engine(Protocol):
    """Runs one model: completes prompts under a JSON schema and keeps a prefix cache."""

    @property
    def name(self) -> str:
        """The model's name, as usage metadata reports it (such as the GGUF file name)."""
        ...

    @property
    def n_ctx(self) -> int:
        """Tokens the context window holds: prompt and answer together."""
        ...

    def tokenize(self, text: str) -> list[int]:
        """The tokens of ``text`` exactly as ``complete`` counts them (special tokens parsed)."""
        ...

    def complete(
        self,
        prompt: str,
        *,
        schema: str,
        max_tokens: int,
        temperature: float,
        on_text: Callable[[str], Any] | None = None,
    ) -> Completion:
        """Generate one turn whose text is JSON valid under ``schema`` (a JSON schema, as JSON
        text); ``on_text`` receives the text as it grows. Raises
        :class:`~agentlab.errors.ContextOverflowError` when the prompt and ``max_tokens`` do
        not fit ``n_ctx``."""
        ...

    def keeping_cache(self) -> AbstractContextManager[None]:
        """A block for side calls (a summary, a verdict): the calls inside it leave the cached
        prefix of the conversation as it was before the block."""
        ...


@runtime_checkable
class AsyncEngine(Engine, Protocol):
    """An engine whose turns can also be awaited: ``await model.ainvoke(...)`` then waits on the
    event loop instead of in a worker thread, so one process drives many conversations."""

    async def acomplete(
        self,
        prompt: str,
        *,
        schema: str,
        max_tokens: int,
        temperature: float,
        on_text: Callable[[str], Awaitable[Any]] | None = None,
    ) -> Completion:
        """``complete``, awaited; ``on_text`` is awaited with each piece of text."""
        ...
