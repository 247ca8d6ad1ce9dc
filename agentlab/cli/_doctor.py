"""``agentlab doctor``: one screen to paste into a bug report.

Each check says ok, warn or fail, and how to fix a failure. The checks that run llama.cpp
(a real prefill and decode, an embedding) run in a child process, so a native crash becomes a
failed check that names the signal instead of killing the doctor.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import typer
from rich.console import Console
from rich.table import Column, Table

from agentlab.cli._options import JsonOpt, ModelOpt
from agentlab.config import Settings, load_settings
from agentlab.errors import AgentlabError
from agentlab.llm._native import (
    CPU_FEATURES,
    build_info,
    cpu_flags,
    extra_buffers_enabled,
    has_amx,
    machine,
)
from agentlab.models import KNOWN_MODELS, resolve_model

__all__ = ["Check", "describe_exit", "doctor", "native_checks", "probe", "run_checks"]

Status = Literal["ok", "warn", "fail"]
PROBE_TIMEOUT_S = 600
_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def check_versions() -> Check:
    import platform

    import llama_cpp

    llama_cpp_version = llama_cpp.llama_version().decode(errors="replace")
    detail = (
        f"agentlab {_package('agentlab')}, llama-cpp-python {_package('llama-cpp-python')} "
        f"(llama.cpp {llama_cpp_version}), langgraph {_package('langgraph')}, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    return Check("versions", "ok", detail)


def check_backends() -> Check:
    backends = build_info()
    parts = []
    for backend, features in backends.items():
        on = [name for name, value in features.items() if value not in ("0", "")]
        parts.append(f"{backend} ({', '.join(on)})" if on else backend)
    if not backends:
        return Check("backends", "fail", "llama.cpp reports none", "reinstall llama-cpp-python")
    return Check("backends", "ok", "; ".join(parts))


def check_cpu(settings: Settings) -> Check:
    flags = cpu_flags()
    present = [name for name in CPU_FEATURES if name in flags] if flags else ["unknown"]
    detail = f"{machine()}, {os.cpu_count()} cores; {' '.join(present)}"
    if flags and "avx2" not in flags:
        return Check("cpu", "warn", detail + "; no AVX2: llama.cpp runs slowly here")
    return Check("cpu", "ok", detail)


def check_extra_buffers(settings: Settings) -> Check:
    choice = settings.cpu_extra_buffers
    enabled = extra_buffers_enabled(choice)
    amx = has_amx()
    detail = f"cpu_extra_buffers={choice}: {'on' if enabled else 'off'}"
    if choice == "auto":
        detail += " (AMX CPU: off)" if amx else " (no AMX: repacked weights on)"
    if enabled and amx:
        return Check(
            "extra buffers", "warn", detail + "; multi-token decode crashes over AMX buffers",
            "set AGENTLAB_CPU_EXTRA_BUFFERS=auto (or off)",
        )  # fmt: skip
    return Check("extra buffers", "ok", detail)


def check_threads(settings: Settings) -> Check:
    cores = os.cpu_count() or 1
    detail = f"decode {settings.n_threads}, prefill {settings.n_threads_batch}, cores {cores}"
    if max(settings.n_threads, settings.n_threads_batch) > cores:
        fix = f"set AGENTLAB_N_THREADS={cores} and AGENTLAB_N_THREADS_BATCH={cores}"
        return Check("threads", "warn", detail + "; more threads than cores slows llama.cpp", fix)
    return Check("threads", "ok", detail)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def check_models(settings: Settings) -> list[Check]:
    checks = []
    for spec in KNOWN_MODELS.values():
        path = spec.path_in(settings.model_dir)
        configured = settings.model == spec.name
        label = f"model {spec.name}" + (" (configured)" if configured else "")
        if not path.is_file():
            pull = f"agentlab models pull {spec.name}"
            if configured:
                checks.append(Check(label, "fail", f"not in {settings.model_dir}", pull))
            else:
                checks.append(Check(label, "ok", f"not pulled (optional: {pull})"))
        elif path.stat().st_size != spec.size or _sha256(path) != spec.sha256:
            checks.append(Check(label, "fail", f"{path} does not match its pinned sha256",
                                f"delete it and run agentlab models pull {spec.name}"))  # fmt: skip
        else:
            checks.append(Check(label, "ok", f"{path}, sha256 verified"))
    if settings.model not in KNOWN_MODELS:
        try:
            path = resolve_model(settings.model, settings.model_dir)
            checks.append(Check("model (configured)", "ok", f"{path} (no pinned checksum)"))
        except AgentlabError as exc:
            checks.append(Check("model (configured)", "fail", str(exc),
                                "pass --model NAME|PATH or set AGENTLAB_MODEL"))  # fmt: skip
    return checks


def _memory_bytes() -> tuple[int, int]:
    """(total, available) RAM in bytes."""
    fields: dict[str, int] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = int(value.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    total = fields.get("MemTotal") or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return total, fields.get("MemAvailable", total)


def check_memory(settings: Settings, model: Path | None) -> Check:
    total, available = _memory_bytes()
    gib = 2**30
    if model is None:
        return Check("memory", "ok", f"RAM {total / gib:.1f} GiB, {available / gib:.1f} available")
    from agentlab.gguf_info import plan_kv, read_model_info

    info = read_model_info(model)
    kv = plan_kv(info, settings.n_ctx, settings.kv_type_k).bytes_per_session
    need = info.file_size + kv
    detail = (
        f"RAM {total / gib:.1f} GiB, {available / gib:.1f} available; weights "
        f"{info.file_size / gib:.2f} GiB + KV {kv / gib:.2f} GiB at n_ctx {settings.n_ctx} "
        f"({settings.kv_type_k}) = {need / gib:.2f} GiB"
    )
    if need > total:
        return Check("memory", "fail", detail, "lower n_ctx, use --kv-type q8_0 or a smaller model")
    if need > available:
        return Check("memory", "warn", detail, "free memory, lower n_ctx or use --kv-type q8_0")
    return Check("memory", "ok", detail)


def probe(kind: str, model: Path, settings: Settings) -> tuple[dict[str, Any] | None, str]:
    """Run a native probe in a child process: (its result, or None and what went wrong)."""
    command = [
        sys.executable, "-m", "agentlab.cli._probe", kind, "--model", str(model),
        "--extra-buffers", settings.cpu_extra_buffers, "--threads", str(settings.n_threads),
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT_S, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        return None, f"no result within {PROBE_TIMEOUT_S} s"
    if done.returncode != 0:
        return None, describe_exit(done.returncode, done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1]), ""


def describe_exit(returncode: int, stderr: str) -> str:
    """What a failed child process did: the signal that killed it, or its last error line."""
    if returncode < 0:
        try:
            return f"llama.cpp crashed ({signal.Signals(-returncode).name})"
        except ValueError:
            return f"llama.cpp crashed (signal {-returncode})"
    lines = stderr.strip().splitlines() or ["no output"]
    return f"exit {returncode}: {lines[-1]}"


_CRASH_FIX = (
    "set AGENTLAB_CPU_EXTRA_BUFFERS=off; if it still fails, paste this report into a bug report"
)


def check_generate(settings: Settings, model: Path | None) -> Check:
    name = "prefill + decode"
    if model is None:
        return Check(name, "warn", "skipped: no model to run", "pull the model (see above)")
    result, problem = probe("generate", model, settings)
    if result is None:
        return Check(name, "fail", f"256-token prefill and 32-token decode: {problem}", _CRASH_FIX)
    buffers = ", ".join(f"{k} {v:.0f} MiB" for k, v in result["buffers"].items())
    return Check(
        name, "ok",
        f"prefill {result['prefill_tok_s']} tok/s ({result['prefill_tokens']} tokens), decode "
        f"{result['decode_tok_s']} tok/s ({result['decode_tokens']} tokens); weights in {buffers}",
    )  # fmt: skip


def check_embed(settings: Settings, model: Path | None) -> Check:
    if settings.embedder != "llama":
        return Check("embedding", "ok", f"embedder {settings.embedder} (not llama.cpp)")
    name = "embedding"
    if model is None:
        return Check(name, "warn", "skipped: no model to run", "pull the model (see above)")
    result, problem = probe("embed", model, settings)
    if result is None:
        return Check(name, "fail", f"one embedding: {problem}", _CRASH_FIX)
    return Check(name, "ok", f"dimension {result['dimension']} in {result['ms']} ms")


def check_chroma() -> Check:
    try:
        import chromadb

        client = chromadb.EphemeralClient()
        name = f"doctor-{os.getpid()}"
        collection = client.get_or_create_collection(name, embedding_function=None)
        vector: Any = [1.0, 0.0]  # chromadb types vectors narrowly
        collection.add(ids=["a"], embeddings=[vector], documents=["a"])
        found = collection.query(query_embeddings=[vector], n_results=1)["ids"][0]
        client.delete_collection(name)
    except Exception as exc:  # any failure of the store is what this check reports
        return Check("chroma", "fail", f"{type(exc).__name__}: {exc}", "reinstall chromadb")
    status: Status = "ok" if found == ["a"] else "fail"
    return Check("chroma", status, f"chromadb {_package('chromadb')}, add and query work")


def check_fts5() -> Check:
    try:
        with sqlite3.connect(":memory:") as db:
            db.execute("CREATE VIRTUAL TABLE t USING fts5(body)")
            db.execute("INSERT INTO t VALUES ('keyword search')")
            hits = db.execute("SELECT count(*) FROM t WHERE t MATCH 'keyword'").fetchone()[0]
    except sqlite3.Error as exc:
        fix = "use a Python whose SQLite has FTS5 (python.org and distro builds do)"
        return Check("sqlite fts5", "fail", f"SQLite {sqlite3.sqlite_version}: {exc}", fix)
    status: Status = "ok" if hits == 1 else "fail"
    return Check("sqlite fts5", status, f"SQLite {sqlite3.sqlite_version}")


def check_home(settings: Settings) -> Check:
    home = settings.home
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=home, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("AGENTLAB_HOME", "fail", f"{home} is not writable ({exc.strerror})",
                     "set AGENTLAB_HOME to a writable folder")  # fmt: skip
    return Check("AGENTLAB_HOME", "ok", f"{home} writable; models in {settings.model_dir}")


def _model_or_none(settings: Settings) -> Path | None:
    try:
        return resolve_model(settings.model, settings.model_dir)
    except AgentlabError:
        return None


def native_checks(settings: Settings) -> list[Check]:
    """The checks that run llama.cpp: a real prefill and decode, and an embedding."""
    model = _model_or_none(settings)
    return [check_generate(settings, model), check_embed(settings, model)]


def run_checks(settings: Settings) -> list[Check]:
    model = _model_or_none(settings)
    steps: list[Callable[[], Check | list[Check]]] = [
        check_versions, check_backends, lambda: check_cpu(settings),
        lambda: check_extra_buffers(settings), lambda: check_threads(settings),
        lambda: check_models(settings), lambda: check_memory(settings, model),
        lambda: native_checks(settings), check_chroma, check_fts5, lambda: check_home(settings),
    ]  # fmt: skip
    checks: list[Check] = []
    for step in steps:
        found = step()
        checks.extend(found if isinstance(found, list) else [found])
    return checks


def doctor(
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check this machine, the llama.cpp build and agentlab's setup; exit 1 if anything fails."""
    settings = load_settings(model=model)
    checks = run_checks(settings)
    failed = any(check.status == "fail" for check in checks)
    if as_json:
        report = {"ok": not failed, "checks": [asdict(check) for check in checks]}
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        _print(checks)
    raise typer.Exit(1 if failed else 0)


_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def _print(checks: list[Check]) -> None:
    table = Table(Column("check", no_wrap=True), "status", Column("detail", overflow="fold"))
    for check in checks:
        detail = check.detail + (f"\n[italic]fix:[/] {check.fix}" if check.fix else "")
        table.add_row(check.name, f"[{_STYLE[check.status]}]{check.status}[/]", detail)
    Console(highlight=False, width=max(120, Console().width)).print(table)
