"""Test doubles for graph logic: a chat model that replays scripted turns.

    model = ScriptedChatModel(turns=[
        call("get_weather", city="Oslo"),
        answer("It is 4 °C in Oslo."),
    ])
    agent = build_react_agent(model, [get_weather])

Scripted models test your graph's wiring, never model behaviour.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections.abc import Callable, Sequence
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

__all__ = ["HashEmbeddings", "ScriptedChatModel", "answer", "call"]


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
