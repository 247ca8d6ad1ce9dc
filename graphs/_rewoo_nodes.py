"""The nodes of the ReWOO graph (see :mod:`agentlab.graphs.rewoo`): the planner, the worker
that fills in a step's references, approval, the tool runner and the solver, with the state they
share and their prompts.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.graph import END
from langgraph.graph.message import add_messages
from pydantic import BaseModel, Field, ValidationError

from agentlab.graphs._approval import approval_node, needs_approval, unanswered_calls
from agentlab.graphs._records import (
    RunRecord,
    current_run,
    latest_task,
    messages_record,
    tool_call_records,
)
from agentlab.graphs._rewoo_args import Extract, bind_args, model_extractor
from agentlab.graphs._rewoo_plan import (
    call_text,
    evidence,
    parameters,
    plan_model,
    plan_problems,
    planner_prompt,
)
from agentlab.graphs._spec import AgentSpec
from agentlab.graphs._steps import Invoke, Steps
from agentlab.graphs.react import RunClock

__all__ = ["Answer", "RewooNodes", "RewooState", "RewooStep", "report"]


class RewooStep(TypedDict):
    id: str
    tool: str
    args: dict[str, Any]  # as the planner wrote them, references included
    args_run: dict[str, Any] | None  # as they ran: references filled in, approval edits
    result: str  # the tool's output, or what went wrong
    status: Literal["pending", "running", "done", "failed"]


class RewooState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    plan: list[RewooStep]
    problem: str | None  # why the planner is asked again: an unusable plan or a failed step
    problems: list[str]  # every such reason in this run
    replans: int
    model_calls: int  # this run's: planner, extractions, solver
    tokens: int
    clock: RunClock
    error: str | None
    recalled: str  # memories recalled for this run (see agentlab.graphs._memory_hook)


class Answer(BaseModel):
    """The final answer for the user."""

    answer: str = Field(
        min_length=1, max_length=600, description="the answer, covering every part of the task"
    )


_SOLVER = """\
Answer the user's task from the results of the tool calls below; they are the facts to use. \
Answer every part of the task, with the exact values from the results. If a result is missing \
or failed, say what could not be found."""


def _why(error: BaseException | None) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
    return str(error)[:300] if error else ""


class _Stopped(Exception):
    """A limit was reached in the middle of a node (the message says which)."""


@dataclass
class _Spent:
    calls: int
    tokens: int

    def update(self) -> dict[str, int]:
        return {"model_calls": self.calls, "tokens": self.tokens}


class RewooNodes:
    """The graph's nodes, sharing the model, the tools and the limits."""

    def __init__(self, spec: AgentSpec, *, max_plan_steps: int, max_replans: int) -> None:
        self.model, self.tools, self.offer = spec.model, list(spec.tools), spec.offer
        self.max_plan_steps, self.max_replans = max_plan_steps, max_replans
        self.max_steps = spec.max_steps
        self.window = spec.window()
        self.runner = spec.tool_runner()
        self.budget = spec.budget
        self.held = needs_approval(spec.tools, spec.policy())
        self.approve_calls = approval_node(spec.tools, spec.policy())
        self.planners: dict[tuple[str, ...], Runnable[Any, Any]] = {}
        self.solver_model = self.model.with_structured_output(Answer, include_raw=True)

    # -- model calls, within the limits ---------------------------------------------------------

    def _ask(
        self, runnable: Runnable[Any, Any], prompt: list[Any], state: RewooState, spent: _Spent
    ) -> Steps[tuple[Any, str]]:
        """The parsed output of one model call, or ``None`` and why; raises ``_Stopped``."""
        clock = state["clock"]
        wall_s = time.time() - clock["started"] - clock["waited"]
        stop = self.budget.before_model(tokens=spent.tokens, wall_s=wall_s)
        if spent.calls >= self.max_steps:
            stop = f"step limit reached: {self.max_steps} model calls (raise --max-steps)"
        if stop:
            raise _Stopped(stop)
        out = yield Invoke(runnable, prompt)
        spent.calls += 1
        raw = out.get("raw")
        if isinstance(raw, AIMessage) and raw.usage_metadata:
            spent.tokens += raw.usage_metadata["total_tokens"]
        return out.get("parsed"), _why(out.get("parsing_error"))

    def _replan_or_fail(self, state: RewooState, problem: str) -> dict[str, Any]:
        replans, problems = state.get("replans", 0), [*state.get("problems", []), problem]
        if replans < self.max_replans:
            return {"problem": problem, "problems": problems, "replans": replans + 1}
        after = f" (after {replans} replan{'s' * (replans != 1)})" if replans else ""
        return {"problem": None, "problems": problems, "error": f"{problem}{after}"}

    # -- the nodes ------------------------------------------------------------------------------

    def planner(self, state: RewooState, config: RunnableConfig) -> Steps[dict[str, Any]]:
        now, task = time.time(), latest_task(state["messages"])
        if not state.get("problem"):  # a new run
            fresh = {"replans": 0, "problems": [], "model_calls": 0, "tokens": 0, "plan": [],
                     "clock": RunClock(started=now, waited=0.0, paused=now)}  # fmt: skip
            state = {**state, **fresh}  # type: ignore[typeddict-item]
        view = list(self.offer(self.tools)) if self.offer else self.tools
        key = tuple(t.name for t in view)
        if key not in self.planners:  # the same tools reuse their schema (and its grammar)
            schema = plan_model(view, self.max_plan_steps)
            self.planners[key] = self.model.with_structured_output(schema, include_raw=True)
        system, *ask = planner_prompt(view, task, state.get("problem"), state["plan"])
        prompt = [system, *_recalled(state), *ask]
        spent = _Spent(state["model_calls"], state["tokens"])
        base = {**{k: v for k, v in state.items() if k != "messages"}, "error": None}
        try:
            parsed, why = yield from self._ask(self.planners[key], prompt, state, spent)
        except _Stopped as stop:
            return {**base, **spent.update(), "problem": None, "error": str(stop)}
        steps = parsed.steps if parsed is not None else []
        problems = plan_problems(steps, view, self.max_plan_steps) if parsed else [
            f"the model's output was not a plan{': ' + why if why else ''}"
        ]  # fmt: skip
        plan = [RewooStep(id=s.id, tool=s.tool, args=s.args, args_run=None, result="",
                          status="pending") for s in steps]  # fmt: skip
        update = {**base, **spent.update(), "plan": plan, "problem": None}
        if problems:
            problem = "the plan cannot be used: " + "; ".join(problems)
            update |= self._replan_or_fail({**state, "plan": plan}, problem)
        return update

    def _extractor(
        self, state: RewooState, step: RewooStep, properties: dict[str, Any], spent: _Spent
    ) -> Extract:
        def ask(schema: type[BaseModel], prompt: list[BaseMessage]) -> Steps[tuple[Any, str]]:
            model = self.model.with_structured_output(schema, include_raw=True)
            return (yield from self._ask(model, prompt, state, spent))

        task = latest_task(state["messages"])
        return model_extractor(ask, task, step, state["plan"], properties)

    def worker(self, state: RewooState, config: RunnableConfig) -> Steps[dict[str, Any]]:
        """Fills in the next step's references; hands its call to approval or the tools."""
        plan = [s.copy() for s in state["plan"]]
        step = next(s for s in plan if s["status"] == "pending")
        results = {s["id"]: s["result"] for s in plan if s["status"] == "done"}
        spent = _Spent(state.get("model_calls", 0), state.get("tokens", 0))
        properties = parameters(next(t for t in self.tools if t.name == step["tool"]))["properties"]
        try:
            extract = self._extractor(state, step, properties, spent)
            args = yield from bind_args(step["args"], properties, results, extract)
        except _Stopped as stop:
            return {**spent.update(), "plan": plan, "error": str(stop)}
        except ValueError as exc:
            step["status"], step["result"] = "failed", str(exc)
            return {**spent.update(), "plan": plan, **self._failed(state, step)}
        step["args_run"] = args
        made = tool_call_records(current_run(state["messages"]))
        earlier = [r for r in made if (r["name"], r["args"]) == (step["tool"], args)]
        if earlier and earlier[-1]["result"] is not None:  # a call that worked is not repeated
            step["status"], step["result"] = "done", earlier[-1]["result"]
            return {**spent.update(), "plan": plan}
        over = self.budget.before_tools(made=len(made), wanted=1)
        if over:
            return {**spent.update(), "plan": plan, "error": over}
        step["status"] = "running"
        call = {"name": step["tool"], "args": args, "id": f"call_{uuid.uuid4().hex[:12]}"}
        return {**spent.update(), "plan": plan, "clock": {**state["clock"], "paused": time.time()},
                "messages": [AIMessage(content="", tool_calls=[call])]}  # fmt: skip

    def _failed(self, state: RewooState, step: RewooStep) -> dict[str, Any]:
        call = call_text(step["tool"], step["args_run"] or step["args"])
        return self._replan_or_fail(state, f"step {step['id']} {call} failed: {step['result']}")

    def approve(self, state: RewooState) -> dict[str, Any]:
        update = self.approve_calls(dict(state))
        clock = state["clock"]  # the time spent waiting is not the run's
        waited = clock["waited"] + time.time() - clock["paused"]
        return {**update, "clock": {**clock, "waited": waited}}

    def run_tools(self, state: RewooState, config: RunnableConfig) -> dict[str, Any]:
        messages = state["messages"]
        turn, pending = unanswered_calls(messages)
        if turn is None:  # cannot happen: the worker wrote the call
            return {"error": "no tool call to run"}
        call = turn.tool_calls[0]
        if pending:
            reply = self.window.clip(self.runner.run(pending[0], config))
        else:  # rejected at approval: the reason is already in the messages
            reply = next(m for m in reversed(messages) if isinstance(m, ToolMessage)
                         and m.tool_call_id == call.get("id"))  # fmt: skip
        ok = reply.status != "error"
        plan = [s.copy() for s in state["plan"]]
        step = next(s for s in plan if s["status"] == "running")
        step["args_run"], step["result"] = call["args"], reply.text
        step["status"] = "done" if ok else "failed"
        update = {"plan": plan, "messages": [reply] if pending else []}
        return update if ok else {**update, **self._failed(state, step)}

    def solver(self, state: RewooState, config: RunnableConfig) -> Steps[dict[str, Any]]:
        task, spent = latest_task(state["messages"]), _Spent(state["model_calls"], state["tokens"])
        ask = f"Task: {task}\n\nResults of the tool calls:\n{evidence(state['plan'])}"
        try:
            prompt = [SystemMessage(_SOLVER), *_recalled(state), HumanMessage(ask)]
            parsed, why = yield from self._ask(self.solver_model, prompt, state, spent)
        except _Stopped as stop:
            return {**spent.update(), "error": str(stop)}
        if parsed is None:
            return {**spent.update(), "error": f"the model could not write the answer: {why}"}
        return {**spent.update(), "messages": [AIMessage(parsed.answer)]}

    def route(self, state: RewooState) -> str:
        if state.get("error"):
            return END
        if state.get("problem"):
            return "planner"
        if any(s["status"] == "running" for s in state["plan"]):
            last = state["messages"][-1]
            calls = last.tool_calls if isinstance(last, AIMessage) else []
            return "approve" if any(self.held(c) for c in calls) else "tools"
        if any(s["status"] == "pending" for s in state["plan"]):
            return "worker"
        return "solver"


def _recalled(state: RewooState) -> list[SystemMessage]:
    recalled = state.get("recalled", "")
    return [SystemMessage(recalled)] if recalled else []


def report(values: Mapping[str, Any]) -> RunRecord:
    """The run's tool calls (in its messages), its plan with each step's status and result,
    its model calls, and its replans with the reasons."""
    extra = {
        "plan": values.get("plan", []),
        "model_calls": values.get("model_calls", 0),
        "replans": values.get("replans", 0),
        "problems": values.get("problems", []),
    }
    return RunRecord(messages_record(values).tool_calls, extra)
