"""Context policies with a scripted model: whole turns, a stable head, hysteresis, bounded size.

The scripted model counts whitespace-separated words as tokens; these tests check the policy's
logic, not a tokenizer.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from agentlab.config import default_budget
from agentlab.context import ContextState, ContextWindow, turns
from agentlab.errors import UsageError
from agentlab.graphs import AgentSpec
from agentlab.graphs.react import build_react_agent
from agentlab.llm import LlamaChatModel
from agentlab.testing import ScriptedChatModel, ScriptedEngine, answer, call
from agentlab.tools import as_tool

HEAD = [SystemMessage("You are a helpful agent.")]


def step(i: int, words: int = 30) -> list[BaseMessage]:
    """One tool turn: a call and its result of ``words`` words."""
    request = AIMessage("", tool_calls=[{"name": "fetch", "args": {"page": i}, "id": f"c{i}"}])
    return [request, ToolMessage(" ".join(["word"] * words), tool_call_id=f"c{i}", name="fetch")]


def summaries(previous: str, evicted: Sequence[BaseMessage]) -> str:
    return f"{previous} +{len(evicted)}".strip()


def window(**kwargs: object) -> ContextWindow:
    options: dict[str, object] = {"budget": 400, "high": 0.9, "low": 0.5, "summary_tokens": 20,
                                  "tool_output_tokens": 100, "summarize": summaries}  # fmt: skip
    options.update(kwargs)
    return ContextWindow(ScriptedChatModel(turns=[]), **options)  # type: ignore[arg-type]


def assert_whole_turns(view: Sequence[BaseMessage]) -> None:
    called = {c["id"] for m in view if isinstance(m, AIMessage) for c in m.tool_calls}
    answered = {m.tool_call_id for m in view if isinstance(m, ToolMessage)}
    assert answered <= called, "a tool result without its call"
    last_call = next((m for m in reversed(view) if isinstance(m, AIMessage)), None)
    pending = {c["id"] for c in last_call.tool_calls} if last_call else set()
    assert called - answered <= pending, "an earlier call without its result"


def run_growing(ctx: ContextWindow, steps: int) -> tuple[list[list[BaseMessage]], int]:
    """Grow a one-task history step by step, storing context updates like a graph does."""
    messages: list[BaseMessage] = [HumanMessage("Read all the pages.")]
    state: ContextState = {}
    views, prunes = [], 0
    for i in range(steps):
        messages += step(i)
        prepared = ctx.prepare(messages, state, HEAD)
        if prepared.update is not None:
            state, prunes = prepared.update, prunes + 1
        views.append(prepared.messages)
        assert prepared.tokens <= ctx.budget
    return views, prunes


def test_turns_group_calls_with_their_results() -> None:
    history = [HumanMessage("task"), *step(1), *step(2), AIMessage("done")]
    assert [len(t) for t in turns(history)] == [1, 2, 2, 1]


def test_cache_aware_prunes_whole_turns_and_keeps_the_task() -> None:
    views, prunes = run_growing(window(), 60)
    assert prunes > 0
    for view in views:
        assert_whole_turns(view)
        assert view[0] == HEAD[0]
        assert any(isinstance(m, HumanMessage) and m.text == "Read all the pages." for m in view)


def test_between_prunes_the_history_is_only_appended_to() -> None:
    ctx = window()
    views, prunes = run_growing(ctx, 60)
    reused = sum(1 for old, new in itertools.pairwise(views) if new[: len(old)] == old)
    assert reused == len(views) - 1 - prunes  # every call but a prune extends the previous one
    # Hysteresis: a prune cuts to the low mark, so the next one is many steps away.
    assert prunes <= len(views) // 4


def test_the_summary_is_pinned_in_the_head_and_bounded() -> None:
    ctx = window(summarize=lambda previous, evicted: "note " * 500)
    views, _ = run_growing(ctx, 40)
    pinned = [m for m in views[-1] if isinstance(m, SystemMessage) and "Summary" in m.text]
    assert len(pinned) == 1 and views[-1][1] is pinned[0]
    assert "cut: the full text has" in pinned[0].text
    assert len(pinned[0].text.split()) < ctx.summary_tokens + 40


def test_sliding_trims_every_call_and_none_keeps_everything() -> None:
    views, _ = run_growing(window(policy="sliding"), 40)
    moved = sum(1 for old, new in itertools.pairwise(views) if new[: len(old)] != old)
    assert moved > 20  # the window slides: the prefix changes on most calls
    for view in views:
        assert_whole_turns(view)
    messages: list[BaseMessage] = [HumanMessage("task"), *step(1), *step(2)]
    assert window(policy="none").prepare(messages, {}, HEAD).messages == [*HEAD, *messages]


def test_oversized_messages_are_cut_with_a_visible_note() -> None:
    ctx = window()
    huge = ToolMessage("word " * 1000, tool_call_id="c1", name="fetch")
    clipped = ctx.clip(huge)
    assert len(clipped.text.split()) <= ctx.tool_output_tokens + 20
    assert "cut: the full text has 1,000 tokens" in clipped.text
    assert clipped.tool_call_id == "c1"
    task = HumanMessage("please " * 2000)
    prepared = ctx.prepare([task], {}, HEAD)
    assert prepared.tokens <= ctx.budget and "cut:" in prepared.messages[-1].text


@pytest.mark.parametrize("policy", ["cache-aware", "sliding"])
def test_hundreds_of_tool_steps_complete_within_the_budget(policy: str) -> None:
    def fetch(page: int) -> str:
        """Fetch one page of a long document."""
        return " ".join(f"p{page}w{i}" for i in range(20 + page % 7 * 10))

    script = [call("fetch", page=i) for i in range(300)] + [answer("read them all")]
    model = ScriptedChatModel(turns=script)
    ctx = ContextWindow(model, [as_tool(fetch)], policy=policy, budget=500,  # type: ignore[arg-type]
                        summarize=summaries)  # fmt: skip
    spec = AgentSpec(model, [as_tool(fetch)], max_steps=400, context=ctx,
                     checkpointer=InMemorySaver())  # fmt: skip
    agent = build_react_agent(spec)
    config = {"configurable": {"thread_id": "long"}, "recursion_limit": 1000}
    out = agent.invoke({"messages": [HumanMessage("Read all 300 pages.")]}, config)
    assert out["messages"][-1].text == "read them all" and not out.get("error")
    assert len(out["messages"]) == 1 + 2 * 300 + 1  # the checkpoint keeps the whole history
    assert max(model.get_num_tokens_from_messages(seen) for seen in model.seen) <= 500


def test_watermarks_out_of_order_are_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"got low=0\.8 high=0\.6"):
        window(low=0.8, high=0.6)


def test_on_an_engine_the_budget_follows_its_window_and_summaries_are_side_calls() -> None:
    engine = ScriptedEngine(['{"thought": "t", "answer": "pages read"}'] * 20, n_ctx=2048)
    model = LlamaChatModel(engine=engine, max_tokens=128)
    assert ContextWindow(model).budget == default_budget(2048, 128)
    ctx = ContextWindow(model, budget=1000, summary_tokens=20, tool_output_tokens=100)
    views, prunes = run_growing(ctx, 20)
    assert prunes >= 1 and len(engine.calls) == prunes  # one summary per prune
    assert all(call.kept_cache for call in engine.calls)  # the conversation's cache stays
    assert any("pages read" in m.text for m in views[-1] if isinstance(m, SystemMessage))


def test_the_summary_is_asked_at_the_end_of_the_cached_prompt_so_only_the_request_is_new() -> None:
    def fetch(page: int) -> str:
        """Read one page of the report."""
        return " ".join(f"p{page}w{i}" for i in range(40))

    tool = as_tool(fetch)
    calls = [f'{{"thought": "t", "tool": "fetch", "args": {{"page": {i}}}}}' for i in range(30)]
    notes = '{"thought": "t", "answer": "notes: pages read so far"}'

    def run(texts: list[str]) -> ScriptedEngine:
        engine = ScriptedEngine(texts, n_ctx=2048)
        model = LlamaChatModel(engine=engine, max_tokens=64)
        ctx = ContextWindow(model, [tool], budget=1400, summary_tokens=40, tool_output_tokens=100)
        agent = build_react_agent(AgentSpec(model, [tool], max_steps=14, context=ctx))
        agent.invoke({"messages": [HumanMessage("Read the pages.")]}, {"recursion_limit": 100})
        return engine

    dry = run([*calls, *calls])
    first = next(i for i, c in enumerate(dry.calls) if c.kept_cache)  # the first prune's call
    engine = run([*calls[:first], notes, *calls[first:]])
    before, request, after = engine.calls[first - 1 : first + 2]
    assert request.kept_cache and not after.kept_cache
    cached = before.prompt + calls[first - 1]  # the prompt and what the model wrote to it
    assert request.prompt.startswith(before.prompt)  # the cached prompt, extended
    assert len(engine.tokenize(request.prompt)) - len(engine.tokenize(cached)) < 90
    assert request.prompt.rstrip().endswith("<|im_start|>assistant")
    assert "Write your notes of this conversation" in request.prompt
    assert '"answer"' in request.schema and '"tool"' not in request.schema  # no tool call
    assert "notes: pages read so far" in after.prompt  # pinned for the rest of the run
