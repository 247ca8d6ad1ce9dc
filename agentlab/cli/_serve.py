"""``agentlab serve``: the patterns behind LangGraph's own HTTP server, offline.

It hands over to ``langgraph dev`` (the in-memory runtime of langgraph-api, an optional
extra under the Elastic License 2.0) with analytics, version checks and tracing off. Threads,
runs and approval interrupts are then LangGraph's API (``langgraph_sdk`` is its client).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agentlab.cli._options import BackendOpt, ModelOpt, ToolsOpt
from agentlab.config import Settings, load_settings
from agentlab.errors import UsageError
from agentlab.graphs import PATTERNS
from agentlab.graphs._served import TOOLS_ENV, langgraph_config
from agentlab.models import resolve_model
from agentlab.tools import load_tools

__all__ = ["OFFLINE_ENV", "serve"]

err = Console(stderr=True, highlight=False)

# No update check, no usage analytics, no LangSmith traces: nothing leaves the machine.
OFFLINE_ENV = {
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
}
REPO_CONFIG = Path(__file__).resolve().parents[2] / "langgraph.json"


def serve(
    port: Annotated[int, typer.Option("--port", help="port to listen on", min=1)] = 2024,
    host: Annotated[str, typer.Option("--host", help="address to bind")] = "127.0.0.1",
    tools: ToolsOpt = None,
    model: ModelOpt = None,
    backend: BackendOpt = None,
) -> None:
    r"""Serve every pattern (graph ids: the pattern names) over LangGraph's HTTP API with
    `langgraph dev` in memory: threads, runs, streaming, and approvals resumed with
    Command(resume=...). Needs pip install 'agentlab\[serve]'. The tools are the demo tools
    unless --tools is given. Ctrl-C stops it."""
    _check_installed()
    settings = load_settings(model=model, backend=backend)  # bad values fail here, not later
    if settings.backend is None:
        resolve_model(settings.model, settings.model_dir)  # not at the server's first request
    if tools:
        load_tools(tools)
    env = _server_env(settings, tools)
    config = _config(settings)
    workdir = settings.home / "server"  # the in-memory runtime saves its threads here
    workdir.mkdir(parents=True, exist_ok=True)
    # --no-reload: a reload would load the model again at every edit
    command = [sys.executable, "-m", "langgraph_cli", "dev", "--no-browser", "--no-reload",
               "--config", str(config), "--host", host, "--port", str(port)]  # fmt: skip
    err.print(
        f"serving {', '.join(PATTERNS)} at http://{host}:{port} with LangGraph's in-memory "
        f"server; threads kept in {workdir} (Ctrl-C stops it)"
    )
    sys.stderr.flush()
    os.chdir(workdir)
    os.execve(sys.executable, command, env)  # the server gets our signals directly


def _server_env(settings: Settings, tools: str | None) -> dict[str, str]:
    """Offline, with the settings as absolute paths (the server runs in another folder) and
    this folder importable, as for ``agentlab run --tools``."""
    model = Path(settings.model)
    path = [os.getcwd(), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {
        **os.environ,
        **OFFLINE_ENV,
        "AGENTLAB_HOME": str(settings.home.resolve()),
        "AGENTLAB_MODEL_DIR": str(settings.model_dir.resolve()),
        "AGENTLAB_MODEL": str(model.resolve()) if model.is_file() else settings.model,
        "PYTHONPATH": os.pathsep.join(path),
    }
    if settings.backend:
        env["AGENTLAB_BACKEND"] = settings.backend
    if tools:
        env[TOOLS_ENV] = tools
    return env


def _check_installed() -> None:
    for module in ("langgraph_cli", "langgraph_api", "langgraph_runtime_inmem"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # ValueError: a module blocked in sys.modules
            found = False
        if not found:
            raise UsageError(
                f"agentlab serve needs LangGraph's server ({module} is missing): "
                "pip install 'agentlab[serve]'"
            )


def _config(settings: Settings) -> Path:
    """The source tree's ``langgraph.json``; an installed package writes the same under home."""
    if REPO_CONFIG.is_file():
        return REPO_CONFIG
    path = settings.home / "langgraph.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(langgraph_config(), indent=2) + "\n")
    return path
