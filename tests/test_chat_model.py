"""LlamaChatModel's protocol over a scripted engine: the turn's schema, tool calls, the loop
breaker, usage figures with the prefix cache, side calls, and the Engine protocol itself."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel

from agentlab.errors import ContextOverflowError, RunError
from agentlab.graphs import AgentSpec
from agentlab.graphs.react import build_react_agent
from agentlab.llm import Engine, LlamaChatModel, LlamaEngine, SupportsSideCalls, side_model
from agentlab.llm.protocol import ToolSpec, action_schema, render_prompt
from agentlab.testing import ScriptedChatModel, ScriptedEngine
from agentlab.tools.demo import TOOLS

WEATHER_CALL = '{"thought": "t", "tool": "get_weather", "args": {"city": "Oslo"}}'
SPECS = [ToolSpec.from_openai(convert_to_openai_tool(t)) for t in TOOLS]


def model_with(texts: list[str], **options: Any) -> tuple[LlamaChatModel, ScriptedEngine]:
    engine = ScriptedEngine(texts, **options)
    return LlamaChatModel(engine=engine), engine


def weather_result(call: AIMessage, text: str = "Oslo: 4 °C") -> ToolMessage:
    return ToolMessage(text, tool_call_id=call.tool_calls[0]["id"], name="get_weather")


def test_the_scripted_engine_is_an_engine() -> None:
    assert isinstance(ScriptedEngine([]), Engine)


@pytest.mark.llm
def test_the_in_process_engine_is_an_engine(chat_model: LlamaChatModel) -> None:
    assert isinstance(chat_model.engine, LlamaEngine) and isinstance(chat_model.engine, Engine)
    assert chat_model.engine.name.endswith(".gguf") and chat_model.engine.n_ctx == 4096


def test_tool_call_output_becomes_tool_calls_with_usage() -> None:
    model, engine = model_with([WEATHER_CALL])
    message = model.bind_tools(TOOLS).invoke([HumanMessage("weather in Oslo?")])
    assert isinstance(message, AIMessage)
    assert message.tool_calls[0]["name"] == "get_weather"
    assert message.tool_calls[0]["args"] == {"city": "Oslo"}
    (sent,) = engine.calls
    assert sent.prompt == render_prompt([HumanMessage("weather in Oslo?")], SPECS)
    assert sent.schema == json.dumps(action_schema(SPECS, "auto"))
    usage = message.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] == len(engine.tokenize(sent.prompt))
    assert usage["output_tokens"] == len(engine.tokenize(WEATHER_CALL))
    assert usage["input_token_details"]["cache_read"] == 0  # nothing cached before
    assert message.response_metadata["model_name"] == "scripted.gguf"
    assert message.response_metadata["prefill_ms"] == usage["input_tokens"]


def test_a_tool_loop_reuses_the_cached_prompt_of_the_previous_turn() -> None:
    model, engine = model_with([WEATHER_CALL, '{"thought": "t", "answer": "4 °C in Oslo"}'])
    bound = model.bind_tools(TOOLS)
    history: list[BaseMessage] = [HumanMessage("weather in Oslo?")]
    first = bound.invoke(history)
    history += [first, weather_result(first)]
    final = bound.invoke(history)
    assert final.text == "4 °C in Oslo" and not final.tool_calls
    assert engine.calls[1].prompt.startswith(engine.calls[0].prompt)  # only appended to
    usage = final.usage_metadata
    assert usage is not None
    assert usage["input_token_details"]["cache_read"] == len(
        engine.tokenize(engine.calls[0].prompt)
    )
    assert usage["input_tokens"] > usage["input_token_details"]["cache_read"]


RUNAWAY = '{"thought": "many dates", "tool": "get_weather", "args": {"city": "' + ", ".join(
    str(year) for year in range(2024, 2400)
)  # a model counting on until max_tokens


def test_a_turn_cut_off_at_max_tokens_is_asked_again_for_an_answer() -> None:
    model, engine = model_with([RUNAWAY, '{"thought": "t", "answer": "4 °C in Oslo"}'])
    message = model.bind_tools(TOOLS).invoke([HumanMessage("weather in Oslo?")])
    assert message.text == "4 °C in Oslo" and not message.tool_calls
    assert message.response_metadata["cut_off_retry"] is True
    assert [json.loads(c.schema) for c in engine.calls] == [
        action_schema(SPECS, "auto"), action_schema(SPECS, "answer")
    ]  # fmt: skip


def test_a_turn_cut_off_twice_fails_the_run_instead_of_answering_with_it() -> None:
    model, _ = model_with([RUNAWAY, '{"thought": "t", "answer": "' + "4 °C, " * 200 + '"}'])
    with pytest.raises(RunError, match="cut off at 256 tokens"):
        model.bind_tools(TOOLS).invoke([HumanMessage("weather in Oslo?")])


def test_repeated_identical_call_is_replaced_by_a_forced_answer() -> None:
    first = AIMessage(
        content="", tool_calls=[{"name": "get_weather", "args": {"city": "Oslo"}, "id": "1"}]
    )
    history = [HumanMessage("weather in Oslo?"), first, weather_result(first)]
    model, engine = model_with([WEATHER_CALL, '{"thought": "t", "answer": "4 °C"}'])
    message = model.bind_tools(TOOLS).invoke(history)
    assert message.text == "4 °C" and not message.tool_calls
    assert message.response_metadata["loop_breaker"] is True
    assert [c.schema for c in engine.calls] == [
        json.dumps(action_schema(SPECS, "auto")),
        json.dumps(action_schema(SPECS, "answer")),
    ]
    prompt_tokens = len(engine.tokenize(engine.calls[0].prompt))
    usage = message.usage_metadata
    assert usage is not None and usage["input_tokens"] == 2 * prompt_tokens
    # the forced answer has the same prompt: all of it was cached
    assert usage["input_token_details"]["cache_read"] == prompt_tokens


def test_a_new_argument_is_not_a_repeat() -> None:
    first = AIMessage(
        content="", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "1"}]
    )
    history = [HumanMessage("q"), first, ToolMessage("x", tool_call_id="1", name="get_weather")]
    model, engine = model_with([WEATHER_CALL])
    message = model.bind_tools(TOOLS).invoke(history)
    assert message.tool_calls and len(engine.calls) == 1


def test_tool_choice_selects_the_schema() -> None:
    model, engine = model_with([WEATHER_CALL, WEATHER_CALL])
    model.bind_tools(TOOLS, tool_choice="get_weather").invoke([HumanMessage("q")])
    model.bind_tools(TOOLS, tool_choice="any").invoke([HumanMessage("q")])
    assert [c.schema for c in engine.calls] == [
        json.dumps(action_schema(SPECS, "get_weather")),
        json.dumps(action_schema(SPECS, "required")),
    ]


def test_streamed_text_reaches_callbacks() -> None:
    class Collect(BaseCallbackHandler):
        def __init__(self) -> None:
            self.tokens: list[str] = []

        def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            self.tokens.append(token)

    collect = Collect()
    model, _ = model_with([WEATHER_CALL])
    model.bind_tools(TOOLS).invoke([HumanMessage("q")], {"callbacks": [collect]})
    assert "".join(collect.tokens) == WEATHER_CALL


def test_token_counts_come_from_the_engine() -> None:
    model, engine = model_with([])
    messages = [HumanMessage("weather in Oslo?")]
    assert model.get_num_tokens("a b, c") == 4  # words and punctuation marks
    counted = model.get_num_tokens_from_messages(messages, tools=TOOLS)
    assert counted == len(engine.tokenize(render_prompt(messages, SPECS)))


def test_a_prompt_past_the_context_window_is_an_overflow() -> None:
    model, engine = model_with([WEATHER_CALL], n_ctx=64)
    with pytest.raises(ContextOverflowError):
        model.bind_tools(TOOLS).invoke([HumanMessage("weather in Oslo?")])
    assert engine.calls == []


class Verdict(BaseModel):
    correct: bool
    reason: str


def test_side_calls_keep_the_conversation_cache() -> None:
    model, engine = model_with(
        [
            WEATHER_CALL,
            json.dumps({"correct": True, "reason": "fine"}),  # structured output: the object
            '{"thought": "t", "answer": "4 °C"}',
        ]
    )
    bound = model.bind_tools(TOOLS)
    history: list[BaseMessage] = [HumanMessage("weather in Oslo?")]
    first = bound.invoke(history)
    judge = side_model(model).with_structured_output(Verdict)
    verdict = judge.invoke([HumanMessage("Is it right?")])
    assert verdict == Verdict(correct=True, reason="fine")
    history += [first, weather_result(first)]
    final = bound.invoke(history)
    assert [c.kept_cache for c in engine.calls] == [False, True, False]
    assert not engine.keeping
    usage = final.usage_metadata
    assert usage is not None  # as if the side call had not run in between
    assert usage["input_token_details"]["cache_read"] == len(
        engine.tokenize(engine.calls[0].prompt)
    )


def test_side_model_is_an_explicit_capability() -> None:
    model, _ = model_with([])
    assert isinstance(model, SupportsSideCalls)
    side = side_model(model)
    assert isinstance(side, LlamaChatModel) and side is not model and side.engine is model.engine
    assert not model.side_calls and side.side_calls
    scripted = ScriptedChatModel(turns=[])
    assert side_model(scripted) is scripted  # no prefix cache to keep: the model itself


def test_the_engine_counts_reuse_like_a_prefix_cache() -> None:
    engine = ScriptedEngine(["{}"] * 4)

    def reused(prompt: str) -> int:
        return engine.complete(prompt, schema="{}", max_tokens=8, temperature=0.0).reused_tokens

    assert reused("a b c") == 0
    assert reused("a b c d") == 3
    with engine.keeping_cache():
        assert reused("x y") == 0
    assert reused("a b e") == 2  # the prompt before the side call was kept
    with pytest.raises(IndexError, match="4 texts; call 5"):
        reused("a")


def test_a_react_graph_runs_on_the_chat_model_over_a_scripted_engine() -> None:
    """The whole stack without llama.cpp: graph, context window, protocol, parsing, usage."""
    model, engine = model_with([WEATHER_CALL, '{"thought": "t", "answer": "4 °C in Oslo"}'])
    agent = build_react_agent(AgentSpec(model, TOOLS))
    state = agent.invoke({"messages": [HumanMessage("weather in Oslo?")]})
    assert state["messages"][-1].text == "4 °C in Oslo"
    reply = state["messages"][-2]
    assert isinstance(reply, ToolMessage) and "Oslo" in reply.text and "°C" in reply.text
    first, second = engine.calls
    assert second.prompt.startswith(first.prompt)  # the second turn only appends: cache reuse
    assert state["messages"][-1].usage_metadata["input_token_details"]["cache_read"] > 0
