"""The patterns as graphs for LangGraph's own server (``langgraph.json``, ``agentlab serve``).

The server keeps threads in its own checkpointer, so these graphs are compiled without one;
approvals interrupt and resume there. Settings come from the environment and config file as
for the command line. The tools are ``AGENTLAB_SERVE_TOOLS`` (``MODULE:ATTR,...``), else the
demo tools. The server asks a factory for its graph at every request, so each pattern is built
once per process, and all of them share one model, loaded when a graph is first asked for.
The factories are async and build in a worker thread: loading a model must not stall the
server's event loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
from functools import cache
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig

from agentlab.config import Settings, load_settings
from agentlab.graphs._build import PATTERNS, Graph, build_agent
from agentlab.llm import LlamaChatModel
from agentlab.tools import load_tools

__all__ = [
    "DEMO_TOOLS",
    "TOOLS_ENV",
    "langgraph_config",
    "multi_agent",
    "plan_execute",
    "react",
    "reflexion",
    "rewoo",
]

TOOLS_ENV = "AGENTLAB_SERVE_TOOLS"
DEMO_TOOLS = "agentlab.tools.demo:TOOLS"


def langgraph_config() -> dict[str, Any]:
    """What ``langgraph.json`` holds: a graph per pattern, named as the pattern."""
    graphs = {name: f"{__name__}:{_factory_name(name)}" for name in PATTERNS}
    return {"dependencies": ["."], "graphs": graphs}


def _factory_name(pattern: str) -> str:
    return pattern.replace("-", "_")


_building = threading.Lock()  # two first requests at once must not load two models


@cache
def _settings() -> Settings:
    return load_settings()


@cache
def _model() -> BaseChatModel:
    return LlamaChatModel.from_settings(_settings())


@cache
def _build(pattern: str) -> Graph:
    tools = load_tools(os.environ.get(TOOLS_ENV) or DEMO_TOOLS)
    return build_agent(pattern, tools, settings=_settings(), model=_model(), checkpointer=None)


def _graph(pattern: str) -> Graph:
    with _building:
        return _build(pattern)


async def _served(pattern: str) -> Graph:
    return await asyncio.to_thread(_graph, pattern)


# A factory per pattern, taking the run's config as the server's factories do.
async def react(config: RunnableConfig) -> Graph:
    return await _served("react")


async def plan_execute(config: RunnableConfig) -> Graph:
    return await _served("plan-execute")


async def reflexion(config: RunnableConfig) -> Graph:
    return await _served("reflexion")


async def multi_agent(config: RunnableConfig) -> Graph:
    return await _served("multi-agent")


async def rewoo(config: RunnableConfig) -> Graph:
    return await _served("rewoo")
