"""ReWOO, plans with placeholders: the model writes every tool call of the task at once, with
references (``#E1``) standing for results it has not seen; the calls then run in order without
the model, except for a short extraction where a result is a sentence and a later call needs one
value out of it; a solver writes the answer from all the results. Fewer and shorter model turns
than ReAct, and no transcript that grows with each observation; the price is no course
correction mid-plan: an unusable plan or a failed step gets ``max_replans`` new plans.
Here: the graph. The state, prompts and nodes: ``_rewoo_nodes``; plans and their checks:
``_rewoo_plan``; filling in references: ``_rewoo_args``.

The plan is a structured output whose schema allows only the bound tools, each with its own
arguments (with agentlab's chat model, a grammar). Before anything runs it is checked: unknown
tools, references to missing, later or the same step, duplicate ids, invalid arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.runnables import RunnableLambda
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agentlab.graphs._memory_hook import remembering
from agentlab.graphs._rewoo_nodes import Answer, RewooNodes, RewooState, RewooStep, report
from agentlab.graphs._spec import AgentSpec
from agentlab.graphs._steps import Steps, steps_node

__all__ = ["Answer", "RewooState", "RewooStep", "build_rewoo_agent", "report"]


def build_rewoo_agent(
    spec: AgentSpec, *, max_plan_steps: int = 6, max_replans: int = 1
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile a ReWOO graph: ``planner`` → (``worker`` → [``approve``] → ``tools``)* →
    ``solver``.

    The planner writes 1 to ``max_plan_steps`` tool calls at once; an unusable plan or a failed
    step sends it back with the problem (and the results so far), at most ``max_replans``
    times, after which the run ends with ``error``. ``spec.max_steps`` bounds the run's model
    calls (planner, extractions, solver). Approval, runner, budget and context as in
    :func:`~agentlab.graphs.react.build_react_agent`; the offer picks the tools the planner
    sees. With memory, what is recalled for the task reaches the planner and the solver, and
    the run is recorded as an episode.
    """
    nodes = RewooNodes(spec, max_plan_steps=max_plan_steps, max_replans=max_replans)

    def node(name: str, steps: Callable[..., Steps[Any]]) -> RunnableLambda[Any, Any]:
        return steps_node(name, steps, spec, report, recall=False)

    graph = StateGraph(RewooState)
    # a replan after an unusable plan enters the planner again: recall once, when a run starts
    planner = steps_node("planner", nodes.planner, spec, report, recall=_starts_run)
    graph.add_node("planner", planner)
    graph.add_node("worker", node("worker", nodes.worker))
    graph.add_node("approve", nodes.approve)
    count = spec.model.get_num_tokens
    graph.add_node("tools", remembering(nodes.run_tools, spec.memory, count, report, recall=False))
    graph.add_node("solver", node("solver", nodes.solver))
    graph.add_edge(START, "planner")
    graph.add_conditional_edges("planner", nodes.route, ["planner", "worker", END])
    steps = ["planner", "worker", "approve", "tools", "solver", END]
    graph.add_conditional_edges("worker", nodes.route, steps)
    graph.add_edge("approve", "tools")
    graph.add_conditional_edges("tools", nodes.route, ["planner", "worker", "solver", END])
    graph.add_edge("solver", END)
    return graph.compile(checkpointer=spec.checkpointer, name="rewoo")


def _starts_run(state: Mapping[str, Any]) -> bool:
    return not state.get("problem")
