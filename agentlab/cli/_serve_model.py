"""``agentlab serve-model``: a local llama-server for ``run``/``eval --backend``."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console

from agentlab.cli._options import CtxOpt, GpuOpt, JsonOpt, KvOpt, ModelOpt, ParallelOpt
from agentlab.config import load_settings
from agentlab.llm._llama_server import start_server, stop_server

__all__ = ["serve_model"]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def serve_model(
    model: ModelOpt = None,
    parallel: ParallelOpt = None,
    n_ctx: CtxOpt = None,
    kv_type: KvOpt = None,
    gpu_layers: GpuOpt = None,
    port: Annotated[int, typer.Option("--port", help="port on 127.0.0.1", min=1)] = 8080,
    stop: Annotated[bool, typer.Option("--stop", help="stop the running model server")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Start llama.cpp's llama-server (`make server` builds it) with --parallel slots of --ctx
    tokens each, wait until it is ready, and print its URL; or --stop it. Its pid file and log
    are kept under AGENTLAB_HOME. Run agents on it with --backend URL."""
    given = {"model": model, "n_ctx": n_ctx, "kv_type_k": kv_type, "kv_type_v": kv_type,
             "n_gpu_layers": gpu_layers}  # fmt: skip
    settings = load_settings(**given)
    if stop:
        stopped = stop_server(settings)
        if as_json:
            sys.stdout.write(json.dumps({"stopped": asdict(stopped)}) + "\n")
        else:
            err.print(f"stopped the model server at {stopped.url} (pid {stopped.pid})")
        return
    info = start_server(settings, parallel=parallel or 1, port=port)
    if as_json:
        sys.stdout.write(json.dumps(asdict(info)) + "\n")
        return
    err.print(
        f"llama-server (pid {info.pid}) serves {info.model} with {info.parallel} slot(s) of "
        f"{info.ctx} tokens; log: {info.log}\nrun agents on it: agentlab run PATTERN TASK "
        f"--backend {info.url}   ·   stop it: agentlab serve-model --stop"
    )
    out.print(info.url)
