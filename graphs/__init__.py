"""Agent graphs: compiled LangGraph graphs over any LangChain chat model."""

from agentlab.graphs.react import ReactState, build_react_agent

__all__ = ["ReactState", "build_react_agent"]
