"""LlamaChatModel logic over a scripted engine: tool choice, loop breaker, usage figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from agentlab.llm import Completion, LlamaChatModel, LlamaEngine
from agentlab.tools.demo import TOOLS


class ScriptedEngine(LlamaEngine):
    """Returns scripted texts and records the grammar-bearing calls (no llama.cpp)."""

    def __init__(self, texts: list[str]) -> None:
        self.path = Path("scripted.gguf")
        self.texts = texts
        self.calls: list[dict[str, Any]] = []

    def complete(self, prompt: str, **kwargs: Any) -> Completion:
        self.calls.append({"prompt": prompt, **kwargs})
        text = self.texts[len(self.calls) - 1]
        return Completion(text, 100, 90, 10, 5.0, 50.0, "stop")


def model_with(texts: list[str]) -> tuple[LlamaChatModel, ScriptedEngine]:
    engine = ScriptedEngine(texts)
    return LlamaChatModel(engine=engine), engine


WEATHER_CALL = '{"thought": "t", "tool": "get_weather", "args": {"city": "Oslo"}}'


def test_tool_call_output_becomes_tool_calls_with_usage() -> None:
    model, _ = model_with([WEATHER_CALL])
    message = model.bind_tools(TOOLS).invoke([HumanMessage("weather in Oslo?")])
    assert isinstance(message, AIMessage)
    assert message.tool_calls[0]["name"] == "get_weather"
    assert message.usage_metadata is not None
    assert message.usage_metadata["input_token_details"]["cache_read"] == 90
    assert message.response_metadata["prefill_ms"] == 5.0


def test_repeated_identical_call_is_replaced_by_a_forced_answer() -> None:
    first = AIMessage(
        content="", tool_calls=[{"name": "get_weather", "args": {"city": "Oslo"}, "id": "1"}]
    )
    history = [
        HumanMessage("weather in Oslo?"),
        first,
        ToolMessage("Oslo: 4 °C", tool_call_id="1", name="get_weather"),
    ]
    model, engine = model_with([WEATHER_CALL, '{"thought": "t", "answer": "4 °C"}'])
    message = model.bind_tools(TOOLS).invoke(history)
    assert message.text == "4 °C" and not message.tool_calls
    assert message.response_metadata["loop_breaker"] is True
    assert len(engine.calls) == 2
    assert engine.calls[0]["grammar"] is not engine.calls[1]["grammar"]
    assert message.usage_metadata is not None and message.usage_metadata["input_tokens"] == 200


def test_a_new_argument_is_not_a_repeat() -> None:
    first = AIMessage(
        content="", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "1"}]
    )
    history = [HumanMessage("q"), first, ToolMessage("x", tool_call_id="1", name="get_weather")]
    model, engine = model_with([WEATHER_CALL])
    message = model.bind_tools(TOOLS).invoke(history)
    assert message.tool_calls and len(engine.calls) == 1


def test_tool_choice_selects_the_grammar() -> None:
    from langchain_core.utils.function_calling import convert_to_openai_tool

    from agentlab.llm.chat_model import _grammar
    from agentlab.llm.protocol import ToolSpec, action_schema

    specs = [ToolSpec.from_openai(convert_to_openai_tool(t)) for t in TOOLS]
    model, engine = model_with([WEATHER_CALL])
    model.bind_tools(TOOLS, tool_choice="get_weather").invoke([HumanMessage("q")])
    expected = _grammar(json.dumps(action_schema(specs, "get_weather")))
    assert engine.calls[0]["grammar"] is expected
