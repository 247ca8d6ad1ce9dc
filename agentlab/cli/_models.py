"""``agentlab models``: pull, list and describe GGUF models."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Column, Table

from agentlab.cli._options import CtxOpt, JsonOpt, KvOpt, ParallelOpt
from agentlab.config import DEFAULT_MODEL, load_settings
from agentlab.errors import UsageError
from agentlab.gguf_info import KV_BYTES_PER_ELEMENT, KV_FORMULA, KvPlan, plan_kv, read_model_info
from agentlab.models import KNOWN_MODELS, ModelSpec, resolve_model
from agentlab.models import pull as pull_model

__all__ = ["models_app"]

models_app = typer.Typer(help="Pull, list and inspect GGUF models.", no_args_is_help=True)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@models_app.command()
def pull(
    name: Annotated[str, typer.Argument(help="known model name")] = DEFAULT_MODEL,
    everything: Annotated[bool, typer.Option("--all", help="pull every known model")] = False,
) -> None:
    """Download a known model, verify its sha256 and place it atomically in the model dir."""
    if name not in KNOWN_MODELS:
        raise UsageError(f"unknown model {name!r}; known: {', '.join(sorted(KNOWN_MODELS))}")
    settings = load_settings()
    for spec in KNOWN_MODELS.values() if everything else [KNOWN_MODELS[name]]:
        _pull_one(spec, settings.model_dir)


def _pull_one(spec: ModelSpec, model_dir: Path) -> None:
    columns = (
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn()
    )  # fmt: skip
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(f"pulling {spec.name}", total=spec.size)

        def report(done: int, total: int, what: str) -> None:
            progress.update(task, completed=done, total=total, description=what)

        path, downloaded = pull_model(spec, model_dir, report)
    verb = "pulled" if downloaded else "already present:"
    out.print(f"{verb} {spec.name} → {path}")


@models_app.command("list")
def list_() -> None:
    """Show known models and whether they are present, plus other GGUF files in the model dir."""
    settings = load_settings()
    # Names and paths are to be copied: never cut them short, fold long paths instead.
    table = Table(Column("model", no_wrap=True), "present", "size", Column("path", overflow="fold"))
    for spec in KNOWN_MODELS.values():
        path = spec.path_in(settings.model_dir)
        table.add_row(spec.name, "yes" if path.is_file() else "no", f"{spec.size:,}", str(path))
    known_files = {spec.filename for spec in KNOWN_MODELS.values()}
    if settings.model_dir.is_dir():
        for path in sorted(settings.model_dir.glob("*.gguf")):
            if path.name not in known_files:
                table.add_row(path.stem, "yes", f"{path.stat().st_size:,}", str(path))
    out.print(table)


@models_app.command()
def info(
    name: Annotated[str | None, typer.Argument(help="known model name or GGUF path")] = None,
    ctx: CtxOpt = None,
    kv_type: KvOpt = None,
    ram: Annotated[
        str | None, typer.Option("--ram", help="memory for weights and KV caches, e.g. 8GiB")
    ] = None,
    parallel: ParallelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Describe a model: architecture, attention shape (GQA), KV-cache bytes per token, and with
    --ctx the KV cache per session (of every KV type unless --kv-type is given) and how many
    sessions fit in --ram; with --parallel N, the KV cache of a server with N slots
    (agentlab serve-model --parallel N: N sessions of --ctx tokens)."""
    if kv_type is not None and kv_type not in KV_BYTES_PER_ELEMENT:
        raise UsageError(f"unknown --kv-type {kv_type!r}; choose f16, q8_0 or q4_0")
    budget = parse_size(ram) if ram is not None else None
    settings = load_settings(model=name)
    path = resolve_model(settings.model, settings.model_dir)
    model_info = read_model_info(Path(path))
    planning = ram is not None or kv_type is not None or parallel is not None
    plan_ctx = ctx or (settings.n_ctx if planning else None)
    kv_types = [kv_type] if kv_type else list(KV_BYTES_PER_ELEMENT)
    plans = [plan_kv(model_info, plan_ctx, t, budget) for t in kv_types] if plan_ctx else []
    if as_json:
        data = model_info.as_dict()
        if plans:
            data["kv_plan"] = [_plan_dict(plan, parallel) for plan in plans]
        sys.stdout.write(json.dumps(data) + "\n")
        return
    rows = [
        ("name", model_info.name),
        ("path", model_info.path),
        ("architecture", model_info.architecture),
        ("layers", str(model_info.layers)),
        ("query heads", str(model_info.query_heads)),
        ("KV heads", str(model_info.kv_heads)),
        ("GQA group size", str(model_info.gqa_group_size)),
        ("head dim", str(model_info.head_dim)),
        ("trained context", f"{model_info.context_length:,} tokens"),
        ("file size", f"{model_info.file_size:,} bytes"),
    ]
    for kv_type in KV_BYTES_PER_ELEMENT:
        rows.append((f"KV bytes/token {kv_type}", f"{model_info.kv_bytes_per_token(kv_type):,.0f}"))
    table = Table("field", "value", show_header=False)
    for key, value in rows:
        table.add_row(key, value)
    out.print(table)
    out.print(f"KV bytes per token = {KV_FORMULA}")
    if plans:
        _print_plans(plans, parallel)


def _plan_dict(plan: KvPlan, slots: int | None) -> dict[str, object]:
    data = asdict(plan)
    if slots is not None:
        data.update(slots=slots, bytes_all_slots=plan.bytes_per_session * slots)
    return data


def _print_plans(plans: list[KvPlan], slots: int | None = None) -> None:
    first = plans[0]
    title = f"KV cache per session at --ctx {first.ctx:,} ({first.cells:,} cells)"
    table = Table("KV type", "bytes per session", "MiB", title=title)
    if slots is not None:
        table.add_column(f"MiB for {slots} server slots")
    if first.memory is not None:
        table.add_column(f"sessions in {first.memory / 2**30:.2f} GiB")
    for plan in plans:
        row = [plan.kv_type, f"{plan.bytes_per_session:,}", f"{plan.bytes_per_session / 2**20:.1f}"]
        if slots is not None:
            row.append(f"{plan.bytes_per_session * slots / 2**20:.1f}")
        if plan.sessions is not None:
            row.append(str(plan.sessions))
        table.add_row(*row)
    out.print(table)
    if first.memory is not None:
        out.print("sessions = (memory - model file size, loaded once) / KV bytes per session")


_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6,
          "mib": 2**20, "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12,
          "tib": 2**40}  # fmt: skip
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*")


def parse_size(text: str) -> int:
    """Bytes in a size such as ``8GiB``, ``512MB`` or ``1000000``."""
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise UsageError(f"--ram {text!r} is not a size; write e.g. 8GiB, 512MB or 1000000")
    return int(float(match.group(1)) * _UNITS[unit])
