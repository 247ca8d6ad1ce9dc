"""Starting and stopping a local ``llama-server`` (``agentlab serve-model``).

The server runs the settings' model with ``parallel`` slots of ``n_ctx`` tokens each, on
127.0.0.1 only. Its flags match the in-process engine: the same KV cache types, extra weight
buffers off where they crash (``--no-repack`` on AMX CPUs), and prompt caching per slot: each
slot keeps its own cells, so a conversation finds its prefix in its slot at its next turn. The
prompt cache in RAM that llama-server shares across slots is off (``--cache-ram 0``): under
concurrent load it restored one conversation's cells into another's slot. The pid, URL and
flags are kept in ``$AGENTLAB_HOME/llama-server.json`` and its log in ``llama-server.log``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from agentlab.config import Settings
from agentlab.errors import RunError, UsageError
from agentlab.llm._native import extra_buffers_enabled
from agentlab.models import AUTO_MODEL, resolve_model

__all__ = ["ServerInfo", "find_binary", "server_args", "start_server", "stop_server"]

_BUILT = Path(__file__).resolve().parents[2] / "build" / "llama-server" / "bin" / "llama-server"


@dataclass(frozen=True)
class ServerInfo:
    """A started server, as the pid file records it."""

    pid: int
    url: str
    model: str
    parallel: int
    ctx: int
    log: str


def find_binary(settings: Settings) -> Path:
    """The llama-server to run: the setting, else ``make server``'s build, else PATH."""
    if settings.llama_server is not None:
        if not settings.llama_server.is_file():
            raise UsageError(f"llama_server {settings.llama_server} is not a file")
        return settings.llama_server
    if _BUILT.is_file():
        return _BUILT
    found = shutil.which("llama-server")
    if found is None:
        raise UsageError(
            "llama-server is not built: run `make server` (or set AGENTLAB_LLAMA_SERVER to a "
            "llama-server binary)"
        )
    return Path(found)


@functools.cache
def _flags(binary: Path) -> str:
    """The server's ``--help`` text: which flags this build knows."""
    done = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr


def server_args(
    binary: Path, model: Path, settings: Settings, parallel: int, port: int
) -> list[str]:
    """The command line of a server for ``settings`` with ``parallel`` slots."""
    flags = _flags(binary)
    args = [
        str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port),
        "-np", str(parallel), "-t", str(settings.n_threads), "-tb", str(settings.n_threads_batch),
        "--cache-type-k", settings.kv_type_k, "--cache-type-v", settings.kv_type_v,
        "-fa", "off" if settings.flash_attn is False else "on",
        "--slot-save-path", str(settings.home / "slots"), "--metrics",
        "--seed", str(settings.seed),
    ]  # fmt: skip
    # Each slot its own n_ctx cells, and no prompt cache in RAM shared across slots: with it,
    # concurrent conversations answered each other's questions (its cached cells were restored
    # into another conversation's slot; llama.cpp issue 27148, measured in bench/serve_bench.py).
    args += ["-c", str(settings.n_ctx * parallel)]
    if "--no-kv-unified" in flags:
        args.append("--no-kv-unified")
    if "--cache-ram" in flags:
        args += ["--cache-ram", "0"]
    if settings.n_gpu_layers:
        args += ["-ngl", str(settings.n_gpu_layers)]
    if not extra_buffers_enabled(settings.cpu_extra_buffers):
        args.append("--no-repack")
    return args


def _pid_path(settings: Settings) -> Path:
    return settings.home / "llama-server.json"


def _running(settings: Settings) -> ServerInfo | None:
    """The server the pid file names, if that process is still a llama-server."""
    try:
        info = ServerInfo(**json.loads(_pid_path(settings).read_text()))
        cmdline = Path(f"/proc/{info.pid}/cmdline").read_bytes()
    except (OSError, ValueError, TypeError):
        return None
    return info if b"llama-server" in cmdline else None


def _port_free(port: int) -> bool:
    """Whether the server can listen on ``port``: like it, ignore connections of an earlier
    server that are still closing (SO_REUSEADDR), not a socket that listens there."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_server(
    settings: Settings, *, parallel: int, port: int, timeout_s: float = 300.0
) -> ServerInfo:
    """Start a server and wait until ``/health`` says it is ready."""
    running = _running(settings)
    if running is not None:
        raise UsageError(
            f"a model server is already running at {running.url} (pid {running.pid}); "
            "stop it first: agentlab serve-model --stop"
        )
    if settings.model == AUTO_MODEL:
        raise UsageError(
            "a server runs one model: --model auto routes between two in-process models; "
            "name one model (or a GGUF path) for serve-model"
        )
    binary = find_binary(settings)
    model = resolve_model(settings.model, settings.model_dir)
    if not _port_free(port):
        raise UsageError(f"port {port} on 127.0.0.1 is in use; choose another with --port")
    settings.home.mkdir(parents=True, exist_ok=True)
    (settings.home / "slots").mkdir(exist_ok=True)
    log_path = settings.home / "llama-server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            server_args(binary, model, settings, parallel, port),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # it outlives this command
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    info = ServerInfo(process.pid, url, str(model), parallel, settings.n_ctx, str(log_path))
    _pid_path(settings).write_text(json.dumps(asdict(info)))
    try:
        _wait_ready(process, info, log_path, timeout_s)
    except RunError:
        _pid_path(settings).unlink(missing_ok=True)
        raise
    return info


def _wait_ready(
    process: subprocess.Popen[bytes], info: ServerInfo, log: Path, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RunError(
                f"llama-server exited with status {process.returncode} while starting; the end "
                f"of {log}:\n{_tail(log)}"
            )
        try:
            if httpx.get(f"{info.url}/health", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    _terminate(process.pid)
    raise RunError(
        f"llama-server was not ready within {timeout_s:.0f} s and was stopped; the end of "
        f"{log}:\n{_tail(log)}"
    )


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_server(settings: Settings) -> ServerInfo:
    """Stop the server this home started."""
    info = _running(settings)
    _pid_path(settings).unlink(missing_ok=True)
    if info is None:
        raise UsageError(f"no model server is running for {settings.home}")
    _terminate(info.pid)
    return info


def _terminate(pid: int, grace_s: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it is still there after ``grace_s``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):  # reap it if it is our child
                os.waitpid(pid, os.WNOHANG)
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
