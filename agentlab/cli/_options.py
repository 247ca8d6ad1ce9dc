"""Command-line options that several commands take, declared once so that one concept has one
spelling and one help text everywhere (``--ctx`` is the context window on ``run``, ``eval`` and
``models info`` alike)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "BackendOpt",
    "CtxOpt",
    "ExpectOpt",
    "GpuOpt",
    "JsonOpt",
    "KnowledgeOpt",
    "KvOpt",
    "ModelOpt",
    "NoMemoryOpt",
    "ParallelOpt",
    "PolicyOpt",
    "StepsOpt",
    "TeamOpt",
    "ToolsOpt",
    "TraceOpt",
]

JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")]
ToolsOpt = Annotated[
    str | None, typer.Option("--tools", help="MODULE:ATTR[,MODULE:ATTR...]: functions or tools")
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model", help="known model name, GGUF path, or auto (fast model where it is sure)"
    ),
]
TraceOpt = Annotated[Path | None, typer.Option("--trace", help="JSON-lines trace file")]
StepsOpt = Annotated[int | None, typer.Option("--max-steps", help="model turns per run", min=1)]
CtxOpt = Annotated[int | None, typer.Option("--ctx", help="context window in tokens", min=1)]
KvOpt = Annotated[
    str | None, typer.Option("--kv-type", help="KV cache type of K and V: f16, q8_0 or q4_0")
]
GpuOpt = Annotated[
    int | None, typer.Option("--gpu-layers", help="layers offloaded to the GPU; -1 = all")
]
PolicyOpt = Annotated[
    str | None,
    typer.Option("--context-policy", help="cache-aware (default), sliding or none"),
]
ExpectOpt = Annotated[
    list[str] | None,
    typer.Option("--expect", help="reflexion: a string the answer must contain (repeatable)"),
]
TeamOpt = Annotated[
    str | None, typer.Option("--team", help="multi-agent: a JSON or TOML team file")
]
NoMemoryOpt = Annotated[
    bool, typer.Option("--no-memory", help="no recall before the run, no episode after it")
]
KnowledgeOpt = Annotated[
    str | None,
    typer.Option(
        "--knowledge",
        metavar="COLLECTION",
        help="let the agent search this collection of your documents (agentlab knowledge add)",
    ),
]
ParallelOpt = Annotated[
    int | None,
    typer.Option("--parallel", help="server slots: conversations decoded at once", min=1),
]
BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        metavar="URL",
        help="run the model on a server: http://HOST:PORT (llama-server, agentlab serve-model) "
        "or openai+http://HOST:PORT/v1 (vLLM and similar)",
    ),
]
