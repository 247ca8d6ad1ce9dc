"""Agent graphs: compiled LangGraph graphs over any LangChain chat model.

Every pattern is built from one :class:`AgentSpec`; :func:`build_agent` builds a pattern by
name with the parts the settings say, as the command line does.
"""

from agentlab.graphs._approval import Decision
from agentlab.graphs._build import PATTERNS, Pattern, build_agent, check_pattern, spec_from_settings
from agentlab.graphs._memory_hook import MemoryHook
from agentlab.graphs._records import RunRecord
from agentlab.graphs._spec import AgentSpec, Offer
from agentlab.graphs.multi_agent import MultiAgentState, Specialist, build_multi_agent
from agentlab.graphs.plan_execute import PlanExecuteState, build_plan_execute_agent
from agentlab.graphs.react import ReactState, build_react_agent
from agentlab.graphs.reflexion import ReflexionState, build_reflexion_agent
from agentlab.graphs.rewoo import RewooState, build_rewoo_agent

__all__ = [
    "PATTERNS",
    "AgentSpec",
    "Decision",
    "MemoryHook",
    "MultiAgentState",
    "Offer",
    "Pattern",
    "PlanExecuteState",
    "ReactState",
    "ReflexionState",
    "RewooState",
    "RunRecord",
    "Specialist",
    "build_agent",
    "build_multi_agent",
    "build_plan_execute_agent",
    "build_react_agent",
    "build_reflexion_agent",
    "build_rewoo_agent",
    "check_pattern",
    "spec_from_settings",
]
