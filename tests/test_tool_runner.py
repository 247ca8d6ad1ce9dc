"""Running tool calls safely: timeouts, retries, odd outputs, the journal and budgets."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage, ToolCall
from langgraph.checkpoint.memory import InMemorySaver

from agentlab.budget import RunBudget
from agentlab.errors import TransientToolError
from agentlab.graphs import AgentSpec
from agentlab.graphs.react import build_react_agent
from agentlab.testing import ScriptedChatModel, answer, call
from agentlab.tools import MAX_OUTPUT_CHARS, CallLedger, ToolMeta, ToolRunner, meta_of, tool
from agentlab.tracing import Tracer

CALLS: list[str] = []


@tool(timeout_s=0.3)
def hang(seconds: float) -> str:
    """Sleep."""
    time.sleep(seconds)
    return "woke up"


@tool(retries=2)
def flaky(fail_times: int) -> str:
    """Fail a few times, then work."""
    CALLS.append("flaky")
    if CALLS.count("flaky") <= fail_times:
        raise TransientToolError("service busy")
    return "ok"


@tool
def broken(x: int) -> str:
    """Always fails."""
    CALLS.append("broken")
    raise ValueError("bad input")


@tool
def blob(kind: str) -> Any:
    """Return odd data."""
    return b"\xff\xfe caf\xe9" if kind == "bytes" else "x" * 50_000_000


def one(name: str, **args: Any) -> ToolCall:
    return ToolCall(name=name, args=args, id=f"id-{name}-{time.monotonic_ns()}", type="tool_call")


def test_metadata_rides_on_the_tool_and_defaults_apply() -> None:
    assert meta_of(hang).timeout_s == 0.3
    assert meta_of(broken) == ToolMeta()


def test_a_hung_tool_is_reported_as_an_error_without_waiting_for_it() -> None:
    started = time.perf_counter()
    reply = ToolRunner([hang]).run(one("hang", seconds=30))
    assert time.perf_counter() - started < 5
    assert reply.status == "error" and "did not finish within 0.3 s" in reply.text


def test_transient_failures_are_retried_with_backoff_and_permanent_ones_are_not() -> None:
    CALLS.clear()
    naps: list[float] = []
    runner = ToolRunner([flaky, broken], sleep=naps.append)
    assert runner.run(one("flaky", fail_times=2)).text == "ok"
    assert naps == [0.5, 1.0]
    CALLS.clear()
    failed = runner.run(one("flaky", fail_times=5))
    assert failed.status == "error" and CALLS.count("flaky") == 3  # 1 + 2 retries
    reply = runner.run(one("broken", x=1))
    assert reply.text == "ValueError: bad input" and CALLS.count("broken") == 1
    # the tool itself rejected its input; an outage is not the input's fault
    assert reply.additional_kwargs == {"rejected": True} and failed.additional_kwargs == {}


def test_invalid_arguments_and_unknown_tools_are_explained() -> None:
    runner = ToolRunner([broken])
    invalid, unknown = runner.run(one("broken", x="nope")), runner.run(one("nope"))
    assert "invalid arguments: x" in invalid.text
    assert "unknown tool 'nope'; available: broken" in unknown.text
    assert invalid.additional_kwargs == unknown.additional_kwargs == {}  # not rejected values


def test_non_utf8_bytes_and_huge_outputs_become_bounded_text() -> None:
    runner = ToolRunner([blob])
    assert runner.run(one("blob", kind="bytes")).text == "\ufffd\ufffd caf\ufffd"
    huge = runner.run(one("blob", kind="huge")).text
    assert len(huge) < MAX_OUTPUT_CHARS + 100 and "50,000,000 characters" in huge


def test_a_journaled_call_returns_its_recorded_result_instead_of_running_again(
    tmp_path: Path,
) -> None:
    CALLS.clear()
    ledger = CallLedger(tmp_path / "tools.sqlite")
    runner = ToolRunner([broken, flaky], ledger=ledger)
    first = one("flaky", fail_times=0)
    assert runner.run(first).text == "ok"
    reopened = ToolRunner([flaky], ledger=CallLedger(tmp_path / "tools.sqlite"))
    assert reopened.run(first).text == "ok"
    assert CALLS.count("flaky") == 1
    ledger.begin("lost", "flaky", {})  # started, never finished: the process died
    reply = reopened.run(ToolCall(name="flaky", args={"fail_times": 0}, id="lost"))
    assert reply.status == "error" and "outcome is unknown" in reply.text
    assert CALLS.count("flaky") == 1


def run(turns: list[Any], budget: RunBudget, tools: list[Any]) -> dict[str, Any]:
    graph = build_react_agent(
        AgentSpec(
            ScriptedChatModel(turns=turns), tools, checkpointer=InMemorySaver(), budget=budget
        )
    )
    return graph.invoke({"messages": [HumanMessage("go")]}, {"configurable": {"thread_id": "b"}})


def test_budgets_end_the_run_with_a_clear_error() -> None:
    CALLS.clear()
    turns = [call("flaky", fail_times=0), call("flaky", fail_times=0), answer("done")]
    state = run(turns, RunBudget(max_tool_calls=1), [flaky])
    assert "tool-call budget reached" in state["error"] and CALLS == ["flaky"]
    costly = call("flaky", fail_times=0)
    costly.usage_metadata = {"input_tokens": 900, "output_tokens": 200, "total_tokens": 1100}
    state = run([costly, answer("done")], RunBudget(max_tokens=1000), [flaky])
    assert "token budget reached: 1100 of max_tokens=1000" in state["error"]
    slow = [call("hang", seconds=0.4), answer("done")]
    state = run(slow, RunBudget(max_wall_s=0.2), [hang])
    assert "time budget reached" in state["error"]
    assert run(slow, RunBudget(max_wall_s=30), [hang])["messages"][-1].text == "done"


def test_every_call_is_traced_once_also_a_timeout_and_an_unknown_tool(tmp_path: Path) -> None:
    trace = tmp_path / "trace.jsonl"
    tracer = Tracer(trace, thread_id="t")
    turns = [call("hang", seconds=5), call("nope"), answer("gave up")]
    graph = build_react_agent(
        AgentSpec(ScriptedChatModel(turns=turns), [hang], checkpointer=InMemorySaver())
    )
    config: Any = {"configurable": {"thread_id": "t"}, "callbacks": [tracer]}
    graph.invoke({"messages": [HumanMessage("go")]}, config)
    tracer.close()
    events = [json.loads(line) for line in trace.read_text().splitlines()]
    calls = [e for e in events if e["event"] == "tool_call"]
    assert [(c["name"], c["ok"]) for c in calls] == [("hang", False), ("nope", False)]
    assert "did not finish" in calls[0]["error"] and "unknown tool" in calls[1]["error"]


def test_a_run_survives_tools_that_raise_return_junk_or_never_return() -> None:
    turns = [call("broken", x=1), call("blob", kind="bytes"), call("blob", kind="huge"),
             call("hang", seconds=60), answer("survived")]  # fmt: skip
    model = ScriptedChatModel(turns=turns)
    graph = build_react_agent(AgentSpec(model, [broken, blob, hang], checkpointer=InMemorySaver()))
    started = time.perf_counter()
    state = graph.invoke({"messages": [HumanMessage("go")]}, {"configurable": {"thread_id": "j"}})
    assert time.perf_counter() - started < 10
    assert state["messages"][-1].text == "survived"
    replies = [m for m in state["messages"] if m.type == "tool"]
    assert [r.status for r in replies] == ["error", "success", "success", "error"]
    assert all(len(r.text) < MAX_OUTPUT_CHARS + 200 for r in replies)
