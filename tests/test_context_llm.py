"""The context manager on the real model: exact counts, prefix reuse, and a real prune."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage

from agentlab.context import ContextState, ContextWindow
from agentlab.tools import as_tool

pytestmark = pytest.mark.llm


def read_page(page: int) -> str:
    """Read one page of the report.

    Args:
        page: the page number
    """
    return f"Page {page}: the northern region sold {page * 40} units of the R-{page} model. " * 12


TOOL = as_tool(read_page)


def test_token_count_is_exactly_the_prompt_the_model_sees(chat_model: Any) -> None:
    messages = [HumanMessage("Read page 3 of the report.")]
    counted = chat_model.get_num_tokens_from_messages(messages, tools=[TOOL])
    response = chat_model.bind_tools([TOOL], tool_choice="read_page").invoke(messages)
    assert counted == response.usage_metadata["input_tokens"]


def test_a_long_run_prunes_once_and_otherwise_reuses_the_cached_prefix(chat_model: Any) -> None:
    head = chat_model.get_num_tokens_from_messages([HumanMessage("x")], tools=[TOOL])
    window = ContextWindow(chat_model, [TOOL], budget=head + 900, high=0.9, low=0.6,
                           summary_tokens=80)  # fmt: skip
    bound = chat_model.bind_tools([TOOL], tool_choice="read_page")
    messages: list[BaseMessage] = [HumanMessage("Read the report page by page, from page 1.")]
    state: ContextState = {}
    calls = []
    for page in range(1, 9):
        prepared = window.prepare(messages, state)
        assert prepared.tokens <= window.budget
        response = bound.invoke(prepared.messages)
        assert isinstance(response, AIMessage) and response.tool_calls
        calls.append((prepared.update is not None, response.usage_metadata))
        state = prepared.update or state
        call_id = response.tool_calls[0]["id"] or ""
        messages += [response, ToolMessage(read_page(page), tool_call_id=call_id)]
    assert state.get("prunes", 0) >= 1 and state["summary"].strip()
    # A call that only appended to the history reuses the whole previous prompt from the cache.
    appended = [
        (before["input_tokens"], usage["input_token_details"]["cache_read"])
        for (_, before), (pruned, usage) in itertools.pairwise(calls)
        if not pruned
    ]
    assert appended and all(reused >= previous for previous, reused in appended), appended
