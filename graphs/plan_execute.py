"""Plan and execute: a planner writes the steps, a ReAct sub-agent carries out each one, and a
replanner reads the results and either finishes with the answer or revises the steps left.
The replanner is asked when a step fails or when no step is left, not after every step: a
small model asked mid-plan tends to answer early.
Reads top to bottom: the structured outputs, state, the nodes, the graph.

Plans are structured outputs (``with_structured_output``), so with agentlab's chat model they
are grammar-constrained JSON. A plan longer than ``max_plan_steps``, an empty plan, a plan the
model cannot produce, or more than ``max_replans`` revisions end the run with ``error`` set;
everything up to that point stays in the checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, Field

from agentlab.graphs._records import RunRecord, latest_task, run_answered, tool_call_records
from agentlab.graphs._spec import AgentSpec
from agentlab.graphs._steps import Invoke, Steps, steps_node
from agentlab.graphs.react import build_react_agent
from agentlab.tools import format_tool_error

__all__ = ["Plan", "PlanExecuteState", "PlanStep", "Replan", "build_plan_execute_agent", "report"]


# Bounded so that a small model repeating itself ends the list instead of the token budget.
_Step = Annotated[str, Field(min_length=3, max_length=160)]


class Plan(BaseModel):
    """The steps that solve the task, in order."""

    steps: list[_Step] = Field(
        min_length=1,
        max_length=6,
        description="one short instruction per step, in words (not a tool name)",
    )


class Replan(BaseModel):
    """What to do after the steps done so far."""

    answer: str = Field(
        max_length=400, description="the final answer for the user, or empty if steps remain"
    )
    steps: list[_Step] = Field(
        max_length=6, description="the steps still to do; empty when answering"
    )


class PlanStep(TypedDict):
    step: str
    status: Literal["pending", "done", "failed"]
    result: str
    calls: list[dict[str, Any]]  # the tool calls the step made, with their results


class PlanExecuteState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    plan: list[PlanStep]
    replans: int
    error: str | None
    recalled: str  # memories recalled for this run (see agentlab.graphs._memory_hook)


_PLANNER = """\
You plan how to solve the user's task with these tools:
{tools}
Write the steps in order, one short instruction in words each. A step that needs an earlier \
step's result says so. A task that asks several things gets a step for each. Use as few steps \
as the task needs; a task that needs no tool gets one step. Example: for "How tall is <a \
building> in feet?" the steps are ["Get the height of <the building>", "Convert the height \
found in step 1 to feet"]."""

_REPLANNER = """\
Task: {task}

Steps done and their results:
{done}

Steps not done yet:
{left}

If the results answer every part of the task, give the final answer (every part, with the \
exact values from the results) and no steps. Otherwise give the steps still to do."""


def _listing(plan: Sequence[PlanStep], *, done: bool) -> str:
    rows = [
        f"{i}. {s['step']}" + (f" -> {s['result']}" if done else "")
        for i, s in enumerate(plan, 1)
        if (s["status"] != "pending") == done
    ]
    return "\n".join(rows) or "(none)"


class _PlanExecuteNodes:
    """The graph's nodes, sharing the spec, the executor sub-agent and the limits."""

    def __init__(self, spec: AgentSpec, max_plan_steps: int, max_replans: int) -> None:
        self.executor_agent = build_react_agent(spec.sub_agent())
        self.listing = "\n".join(f"- {t.name}: {t.description.splitlines()[0]}" for t in spec.tools)
        self.planner_model = spec.model.with_structured_output(Plan)
        self.replanner_model = spec.model.with_structured_output(Replan)
        self.max_plan_steps, self.max_replans = max_plan_steps, max_replans

    @staticmethod
    def fail(message: str) -> dict[str, Any]:
        return {"error": message}

    def planner(self, state: PlanExecuteState, config: RunnableConfig) -> Steps[dict[str, Any]]:
        system = _PLANNER.format(tools=self.listing or "(none)")
        prompt = [SystemMessage(system), *_recalled(state),
                  HumanMessage(latest_task(state["messages"]))]  # fmt: skip
        no_plan: dict[str, Any] = {"plan": [], "replans": 0}  # a new run: no earlier plan
        try:
            plan = yield Invoke(self.planner_model, prompt)
        except Exception as exc:  # the model's output did not parse as a plan
            why = f"the model could not produce a plan: {format_tool_error(exc)}"
            return {**no_plan, **self.fail(why)}
        if not isinstance(plan, Plan):
            why = "the model could not produce a plan (its output was not a plan)"
            return {**no_plan, **self.fail(why)}
        steps = [s.strip() for s in plan.steps if s.strip()]
        if not steps:
            return {**no_plan, **self.fail("the model produced an empty plan")}
        if len(steps) > self.max_plan_steps:
            why = f"the plan has {len(steps)} steps, more than max_plan_steps={self.max_plan_steps}"
            return {**no_plan, **self.fail(why)}
        return {**no_plan, "plan": [_pending(s) for s in steps], "error": None}

    def executor(self, state: PlanExecuteState, config: RunnableConfig) -> Steps[dict[str, Any]]:
        plan = [dict(s) for s in state["plan"]]
        index = next(i for i, s in enumerate(plan) if s["status"] == "pending")
        known = _listing(state["plan"], done=True)
        ask = f"{plan[index]['step']}\n\nKnown from earlier steps:\n{known}"
        run = {"messages": [HumanMessage(ask)], "recalled": state.get("recalled", "")}
        done = yield Invoke(self.executor_agent, run, config)
        answered = run_answered(done["messages"], done.get("error"))
        last = done["messages"][-1]
        plan[index]["status"] = "done" if answered else "failed"
        plan[index]["result"] = last.text if answered else str(done.get("error") or "no answer")
        plan[index]["calls"] = tool_call_records(done["messages"][1:])
        return {"plan": plan}

    def replanner(self, state: PlanExecuteState, config: RunnableConfig) -> Steps[dict[str, Any]]:
        plan = state["plan"]
        prompt = _REPLANNER.format(
            task=latest_task(state["messages"]), done=_listing(plan, done=True),
            left=_listing(plan, done=False),
        )  # fmt: skip
        try:
            decision = yield Invoke(self.replanner_model, [*_recalled(state), HumanMessage(prompt)])
        except Exception as exc:
            why = f"the model could not revise the plan: {format_tool_error(exc)}"
            return self.fail(why)
        if not isinstance(decision, Replan):
            return self.fail("the model could not revise the plan (its output was not a decision)")
        answer = decision.answer.strip()
        steps = [s.strip() for s in decision.steps if s.strip()]
        left = any(s["status"] == "pending" for s in plan)
        if (answer and not left) or not steps:
            final = answer or plan[-1]["result"]
            return {"messages": [AIMessage(final)]}
        return self._revise(state, plan, steps)

    def _revise(
        self, state: PlanExecuteState, plan: list[PlanStep], steps: list[str]
    ) -> dict[str, Any]:
        kept = [s for s in plan if s["status"] != "pending"]
        revised = kept + [_pending(s) for s in steps]
        pending_before = [s["step"] for s in plan if s["status"] == "pending"]
        replans = state.get("replans", 0) + (steps != pending_before)
        if replans > self.max_replans:
            return self.fail(f"replan limit reached: the plan was revised {replans} times")
        if len(revised) > self.max_plan_steps + self.max_replans:
            return self.fail(f"the plan grew to {len(revised)} steps")
        return {"plan": revised, "replans": replans}


def _pending(step: str) -> PlanStep:
    return PlanStep(step=step, status="pending", result="", calls=[])


def report(values: Mapping[str, Any]) -> RunRecord:
    """The run's tool calls, step by step, and its plan with each step's status and result."""
    plan = values.get("plan", [])
    calls = [call for step in plan for call in step.get("calls", [])]
    shown = [{k: v for k, v in step.items() if k != "calls"} for step in plan]
    return RunRecord(calls, {"plan": shown})


def _recalled(state: PlanExecuteState) -> list[SystemMessage]:
    recalled = state.get("recalled", "")
    return [SystemMessage(recalled)] if recalled else []


def _after_planner(state: PlanExecuteState) -> str:
    return END if state.get("error") else "executor"


def _after_executor(state: PlanExecuteState) -> str:
    plan = state["plan"]
    latest = [s for s in plan if s["status"] != "pending"][-1]
    left = any(s["status"] == "pending" for s in plan)
    return "executor" if left and latest["status"] == "done" else "replanner"


def _after_replanner(state: PlanExecuteState) -> str:
    if state.get("error") or isinstance(state["messages"][-1], AIMessage):
        return END
    return "executor"


def build_plan_execute_agent(
    spec: AgentSpec, *, max_plan_steps: int = 6, max_replans: int = 3
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile a plan-and-execute graph: ``planner`` → (``executor`` → ``replanner``)* → end.

    Each step runs as a ReAct sub-agent over the spec's tools (``spec.max_steps`` model turns
    per step, the same approval, runner, budget and tool offer as
    :func:`~agentlab.graphs.react.build_react_agent`); approvals inside a step interrupt the
    whole graph and resume with ``Command(resume=...)``. With memory, what is recalled for the
    task reaches the planner, every step and the replanner; the run is recorded as an episode.
    """
    nodes = _PlanExecuteNodes(spec, max_plan_steps, max_replans)
    graph = StateGraph(PlanExecuteState)
    graph.add_node("planner", steps_node("planner", nodes.planner, spec, report))
    graph.add_node("executor", steps_node("executor", nodes.executor))
    # the replanner only records: the run's messages still end with the task while it runs
    replanner = steps_node("replanner", nodes.replanner, spec, report, recall=False)
    graph.add_node("replanner", replanner)
    graph.add_edge(START, "planner")
    graph.add_conditional_edges("planner", _after_planner, ["executor", END])
    graph.add_conditional_edges("executor", _after_executor, ["executor", "replanner"])
    graph.add_conditional_edges("replanner", _after_replanner, ["executor", END])
    return graph.compile(checkpointer=spec.checkpointer, name="plan-execute")
