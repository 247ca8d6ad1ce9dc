"""Test doubles: a chat model that replays scripted turns, an engine that replays scripted
completions, deterministic embeddings, and a clock to move by hand.

    model = ScriptedChatModel(turns=[
        call("get_weather", city="Oslo"),
        answer("It is 4 °C in Oslo."),
    ])
    agent = build_react_agent(model, [get_weather])

``ScriptedChatModel`` skips the model's protocol: tool calls arrive as scripted. To test the
protocol too (prompt rendering, the turn's schema, parsing, the loop breaker, usage figures and
the prefix cache), run a real ``LlamaChatModel`` on a ``ScriptedEngine``:

    engine = ScriptedEngine(['{"thought": "t", "tool": "get_weather", "args": {"city": "Oslo"}}'])
    model = LlamaChatModel(engine=engine)

Scripted models test your graph's wiring, never model behaviour.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

from agentlab.errors import ContextOverflowError
from agentlab.llm.engine import Completion

__all__ = [
    "EngineCall",
    "FakeClock",
    "HashEmbeddings",
    "ScriptedChatModel",
    "ScriptedEngine",
    "answer",
    "call",
]


def call(name: str, /, **args: Any) -> AIMessage:
    """A scripted turn that calls tool ``name`` with ``args``."""
    tool_call = {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}"}
    return AIMessage(content="", tool_calls=[tool_call])


def answer(text: str) -> AIMessage:
    """A scripted final answer."""
    return AIMessage(content=text)


class ScriptedChatModel(BaseChatModel):
    """Replays ``turns`` in order, one per call; records what it was shown.

    Raises ``IndexError`` when called more often than scripted, so a test notices a graph that
    loops. ``seen`` holds the messages of every call; ``bound_tools`` the last tool names bound.
    """

    turns: list[AIMessage]
    seen: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def get_num_tokens(self, text: str) -> int:
        """Whitespace-separated words: a deterministic stand-in for a tokenizer."""
        return len(text.split())

    def get_num_tokens_from_messages(
        self,
        messages: list[BaseMessage],
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool] | None = None,
    ) -> int:
        names = " ".join(convert_to_openai_tool(t)["function"]["name"] for t in tools or [])
        return sum(self.get_num_tokens(m.text) + 1 for m in messages) + self.get_num_tokens(names)

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        self.bound_tools = [tool["function"]["name"] for tool in formatted]
        return self.bind(tools=formatted, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        step = len(self.seen)
        if step >= len(self.turns):
            raise IndexError(f"scripted model has {len(self.turns)} turns; call {step + 1} made")
        self.seen.append(list(messages))
        turn = self.turns[step].model_copy(deep=True)
        for tool_call in turn.tool_calls:  # fresh ids: a replayed script must not collide
            tool_call["id"] = f"call_{uuid.uuid4().hex[:12]}"
        if turn.usage_metadata is None:  # a script may set usage to exercise token budgets
            turn.usage_metadata = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}
        return ChatResult(generations=[ChatGeneration(message=turn)])


class HashEmbeddings(Embeddings):
    """Bag-of-words vectors by feature hashing: instant and deterministic, for testing stores
    (and for benchmarking their own overhead). Texts sharing words are near; no semantics."""

    name = "hash"

    def __init__(self, dimensions: int = 64) -> None:
        self.dimensions = dimensions

    def embed_query(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
            vector[int.from_bytes(digest, "little") % self.dimensions] += 1.0
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        return [x / norm for x in vector] if any(vector) else [1.0] + [0.0] * (self.dimensions - 1)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]


@dataclass(frozen=True)
class EngineCall:
    """One ``complete`` call a :class:`ScriptedEngine` received."""

    prompt: str
    schema: str  # the JSON schema of the turn, as JSON text
    max_tokens: int
    temperature: float
    kept_cache: bool  # made inside ``keeping_cache()``: a side call


class ScriptedEngine:
    """An :class:`~agentlab.llm.Engine` that replays ``texts`` (the JSON turns a model would
    write) in order, one per ``complete`` call, and records every call in ``calls``.

    Tokens are words and punctuation marks, each a stable number: deterministic counts for
    context budgets. Like a prefix cache, each call reports as reused the tokens its prompt
    shares from the start with the previous conversation prompt; calls inside
    ``keeping_cache()`` (``keeping`` is then true) leave that prompt in place. Timings are one
    millisecond per evaluated prompt token and per generated token; a text longer than
    ``max_tokens`` is cut there, with ``finish_reason`` "length". Raises ``IndexError`` when
    called more often than scripted, and ``ContextOverflowError`` like a real engine.
    """

    def __init__(
        self, texts: Sequence[str], *, name: str = "scripted.gguf", n_ctx: int = 4096
    ) -> None:
        self.texts = list(texts)
        self.calls: list[EngineCall] = []
        self.keeping = False
        self._name = name
        self._n_ctx = n_ctx
        self._cached: list[int] = []  # the tokens of the last prompt outside keeping_cache

    @property
    def name(self) -> str:
        return self._name

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    def tokenize(self, text: str) -> list[int]:
        return [zlib.crc32(piece.encode()) for piece in re.findall(r"\w+|[^\w\s]", text)]

    def complete(
        self,
        prompt: str,
        *,
        schema: str,
        max_tokens: int,
        temperature: float,
        on_text: Callable[[str], Any] | None = None,
    ) -> Completion:
        step = len(self.calls)
        if step >= len(self.texts):
            raise IndexError(f"scripted engine has {len(self.texts)} texts; call {step + 1} made")
        tokens = self.tokenize(prompt)
        if len(tokens) + max_tokens > self.n_ctx:
            raise ContextOverflowError(
                f"the prompt has {len(tokens)} tokens and the answer may need {max_tokens}, "
                f"but the context window holds {self.n_ctx}"
            )
        self.calls.append(EngineCall(prompt, schema, max_tokens, temperature, self.keeping))
        reused = _shared_prefix(self._cached, tokens)
        self._cached = tokens
        text, finish = self.texts[step], "stop"
        pieces = list(re.finditer(r"\w+|[^\w\s]", text))
        if len(pieces) > max_tokens:  # cut off like a model that reaches max_tokens
            text, finish = text[: pieces[max_tokens - 1].end()], "length"
        if on_text is not None:
            on_text(text)
        generated = len(self.tokenize(text))
        return Completion(
            text=text,
            prompt_tokens=len(tokens),
            reused_tokens=reused,
            completion_tokens=generated,
            prefill_ms=float(len(tokens) - reused),
            decode_ms=float(generated),
            finish_reason=finish,
        )

    @contextmanager
    def keeping_cache(self) -> Iterator[None]:
        saved, outer = self._cached, self.keeping
        self.keeping = True
        try:
            yield
        finally:
            self._cached, self.keeping = saved, outer


def _shared_prefix(old: Sequence[int], new: Sequence[int]) -> int:
    shared = 0
    for a, b in zip(old, new, strict=False):
        if a != b:
            break
        shared += 1
    return shared


class FakeClock:
    """A clock for code that takes ``clock: Callable[[], float]``: returns ``now`` (seconds
    since the epoch) until a test sets it or calls ``advance``."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
