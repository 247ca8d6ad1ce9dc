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

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agentlab.budget import RunBudget
from agentlab.context import ContextWindow
from agentlab.graphs._rewoo_nodes import Answer, RewooNodes, RewooState, RewooStep, reported
from agentlab.tools import NeedsApproval, ToolRunner

__all__ = ["Answer", "RewooState", "RewooStep", "build_rewoo_agent"]


def build_rewoo_agent(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    max_plan_steps: int = 6,
    max_replans: int = 1,
    max_steps: int = 8,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    context: ContextWindow | None = None,
    approval: NeedsApproval | None = None,
    runner: ToolRunner | None = None,
    budget: RunBudget | None = None,
    offer: Callable[[Sequence[BaseTool]], Sequence[BaseTool]] | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile a ReWOO graph: ``planner`` → (``worker`` → [``approve``] → ``tools``)* →
    ``solver``.

    The planner writes 1 to ``max_plan_steps`` tool calls at once; an unusable plan or a failed
    step sends it back with the problem (and the results so far), at most ``max_replans``
    times, after which the run ends with ``error``. ``max_steps`` bounds the run's model calls
    (planner, extractions, solver). Approval, runner, budget and context as in
    :func:`~agentlab.graphs.react.build_react_agent`; ``offer`` picks the tools the planner sees.
    """
    nodes = RewooNodes(
        model, tools, limits=(max_plan_steps, max_replans, max_steps), context=context,
        approval=approval, runner=runner, budget=budget, offer=offer,
    )  # fmt: skip
    graph = StateGraph(RewooState)
    graph.add_node("planner", reported(nodes.planner))
    graph.add_node("worker", reported(nodes.worker))
    graph.add_node("approve", nodes.approve)
    graph.add_node("tools", reported(nodes.run_tools))
    graph.add_node("solver", reported(nodes.solver))
    graph.add_edge(START, "planner")
    graph.add_conditional_edges("planner", nodes.route, ["planner", "worker", END])
    steps = ["planner", "worker", "approve", "tools", "solver", END]
    graph.add_conditional_edges("worker", nodes.route, steps)
    graph.add_edge("approve", "tools")
    graph.add_conditional_edges("tools", nodes.route, ["planner", "worker", "solver", END])
    graph.add_edge("solver", END)
    return graph.compile(checkpointer=checkpointer, name="rewoo")
