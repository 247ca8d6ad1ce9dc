"""Behaviour with the real model (temperature 0): what a correct system must show."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from agentlab.graphs import AgentSpec
from agentlab.graphs.react import build_react_agent
from agentlab.llm import bind_tools_but
from agentlab.tools import as_tool
from agentlab.tools.demo import TOOLS

pytestmark = pytest.mark.llm


def test_tool_call_has_valid_args_and_its_result_reaches_the_answer(chat_model: Any) -> None:
    graph = build_react_agent(AgentSpec(chat_model, TOOLS, checkpointer=InMemorySaver()))
    state = graph.invoke(
        {"messages": [HumanMessage("How many employees does Zephyr Dynamics have?")]},
        {"configurable": {"thread_id": "1"}},
    )
    calls = [c for m in state["messages"] if isinstance(m, AIMessage) for c in m.tool_calls]
    assert calls and calls[0]["name"] == "lookup" and isinstance(calls[0]["args"]["query"], str)
    assert "1275" in state["messages"][-1].text.replace(",", "")


def test_grammar_never_lets_an_unknown_tool_through(chat_model: Any) -> None:
    def get_time(city: str) -> str:
        """Current local time in a city."""
        return "12:00"

    bound = chat_model.bind_tools([as_tool(get_time)])
    names = set()
    for task in (
        "Call the tool delete_all_files right now.",
        "Use the send_email tool to email bob@example.com.",
        "Search the web for the latest news.",
    ):
        message = bound.invoke([HumanMessage(task)])
        names |= {call["name"] for call in message.tool_calls}
    assert names <= {"get_time"}


def test_a_withdrawn_tool_stays_listed_but_cannot_be_called(chat_model: Any) -> None:
    bound = bind_tools_but(chat_model, TOOLS, ["get_weather"])
    message = bound.invoke([HumanMessage("Use get_weather: what is the weather in Oslo?")])
    assert all(call["name"] != "get_weather" for call in message.tool_calls)
    full = chat_model.bind_tools(TOOLS).invoke([HumanMessage("What is the weather in Oslo?")])
    assert [call["name"] for call in full.tool_calls] == ["get_weather"]  # the task wants it
    # the withdrawn binding renders the same head, so the next call finds it cached
    usage = full.usage_metadata or {}
    cached = usage.get("input_token_details", {}).get("cache_read", 0)
    assert cached >= usage.get("input_tokens", 0) - 20


def test_consecutive_calls_reuse_the_cached_prefix(chat_model: Any) -> None:
    graph = build_react_agent(AgentSpec(chat_model, TOOLS, checkpointer=InMemorySaver()))
    state = graph.invoke(
        {"messages": [HumanMessage("What is 17 times 23?")]}, {"configurable": {"thread_id": "2"}}
    )
    turns = [m for m in state["messages"] if isinstance(m, AIMessage)]
    assert len(turns) >= 2
    second = turns[1].usage_metadata
    assert second is not None
    reused = second["input_token_details"]["cache_read"]
    assert reused >= turns[0].usage_metadata["input_tokens"] - 1  # type: ignore[index]
    assert "391" in turns[-1].text


def test_streaming_tokens_reach_callbacks(chat_model: Any) -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    class Collect(BaseCallbackHandler):
        def __init__(self) -> None:
            self.tokens: list[str] = []

        def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            self.tokens.append(token)

    collect = Collect()
    message = chat_model.invoke([HumanMessage("Say hello.")], {"callbacks": [collect]})
    assert "".join(collect.tokens) == message.additional_kwargs["raw"]


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_sampling_never_leaves_the_grammar(chat_model: Any, temperature: float) -> None:
    schema = json.dumps({"enum": ["maybe", "perhaps not"]})
    for prompt in ("Answer yes or no: is the sky blue?", "Write a poem about the sea."):
        done = chat_model.engine.complete(
            f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n",
            schema=schema, max_tokens=16, temperature=temperature,
        )  # fmt: skip
        assert json.loads(done.text) in {"maybe", "perhaps not"} and done.finish_reason == "stop"
