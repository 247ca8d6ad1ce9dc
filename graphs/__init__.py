"""Agent graphs: compiled LangGraph graphs over any LangChain chat model."""

from agentlab.graphs._approval import Decision
from agentlab.graphs.multi_agent import MultiAgentState, Specialist, build_multi_agent
from agentlab.graphs.plan_execute import PlanExecuteState, build_plan_execute_agent
from agentlab.graphs.react import ReactState, build_react_agent
from agentlab.graphs.reflexion import ReflexionState, build_reflexion_agent
from agentlab.graphs.rewoo import RewooState, build_rewoo_agent

__all__ = [
    "Decision",
    "MultiAgentState",
    "PlanExecuteState",
    "ReactState",
    "ReflexionState",
    "RewooState",
    "Specialist",
    "build_multi_agent",
    "build_plan_execute_agent",
    "build_react_agent",
    "build_reflexion_agent",
    "build_rewoo_agent",
]
