"""Run untrusted Python in a separate process with limits and, where Linux allows it, isolation.

This is the agent's side: it launches the helper script ``_sandbox_child.py`` (standard library
only, so it runs before and outside any environment), feeds it the program, reads its output and
kills it at the deadline. With namespaces the chain is::

    agent ── monitor (host namespaces; writes the holder's uid map)
               └─ holder (new user, mount, network, pid, ipc and uts namespaces)
                    └─ init, pid 1 (builds a read-only root, pivots into it, reaps, reports status)
                         └─ code (no capabilities, rlimits) ── exec ── python -I -u -X utf8 -

Without them: monitor ── code (rlimits, private working directory), and the result says so.
The code's program arrives on stdin (no size limit, no file for it in the working directory); a
status pipe tells the agent how the code ended, apart from what the code itself prints.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, Any, cast

__all__ = ["SandboxLimits", "SandboxResult", "namespace_problem", "run_sandboxed"]

_MIB = 1024 * 1024
_DRAIN_S = 0.5  # after the code ends, how long leftover processes may keep its pipes open
# Next to this file, in the source tree and installed alike; started by path, not imported.
_CHILD_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_sandbox_child.py")


@dataclass(frozen=True)
class SandboxLimits:
    """What sandboxed code may use; the defaults suit short snippets written by a model."""

    wall_time_s: float = 10.0
    cpu_time_s: int = 5
    memory_mb: int = 512  # address space (RLIMIT_AS)
    file_size_mb: int = 10  # largest file the code may write
    disk_mb: int = 64  # size of the working directory (a tmpfs; namespaces only)
    max_processes: int = 64  # processes and threads (RLIMIT_NPROC)
    max_open_files: int = 256
    max_output_chars: int = 8000  # per stream; the middle of longer output is cut
    use_namespaces: bool = True  # False: rlimits and a private directory only

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, bool) and not value > 0:
                raise ValueError(f"SandboxLimits.{field.name} must be positive, not {value!r}")


@dataclass(frozen=True)
class SandboxResult:
    """How a sandboxed run ended and what it printed (each stream already truncated)."""

    exit_code: int | None  # None when a signal or the wall-clock timeout ended it
    stdout: str
    stderr: str
    timed_out: bool
    killed_reason: str | None  # the limit that stopped the code, if one did
    isolation: str  # "namespaces", or "none (why: what is not isolated)"
    wall_s: float


def run_sandboxed(code: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Run ``code`` with the current Python installation in a sandbox; never raises for the code.

    Raises:
        OSError: the sandbox itself cannot start (no temporary directory, no interpreter).
    """
    limits = limits or SandboxLimits()
    problem = namespace_problem() if limits.use_namespaces else "turned off in SandboxLimits"
    isolation = "namespaces"
    if problem is not None:
        isolation = f"none ({problem}: network and filesystem are not isolated)"
    start = time.monotonic()
    status, stdout, stderr, timed_out = _launch(code, limits, namespaces=problem is None)
    wall_s = time.monotonic() - start
    exit_code = status.get("exit")
    return SandboxResult(
        exit_code=exit_code if isinstance(exit_code, int) and not timed_out else None,
        stdout=stdout,
        stderr=stderr,
        timed_out=timed_out,
        killed_reason=_killed_reason(status, stderr, limits, timed_out),
        isolation=isolation,
        wall_s=round(wall_s, 3),
    )


@functools.cache
def namespace_problem() -> str | None:
    """Why namespace isolation does not work here, or None when it does (probed once)."""
    if not sys.platform.startswith("linux"):
        return "namespaces need Linux"
    try:
        status, _, stderr, _ = _launch("", SandboxLimits(wall_time_s=60), namespaces=True)
    except OSError as exc:
        return f"cannot start the probe ({exc})"
    if "error" in status:
        if status.get("stage") == "namespaces":
            return f"user namespaces unavailable ({status['error']})"
        return f"namespace setup failed at {status.get('stage')} ({status['error']})"
    if status.get("exit") != 0:
        last = stderr.strip().splitlines()[-1:] or [f"status {status}"]
        return f"python does not start inside the namespaces ({last[0]})"
    return None


def _launch(
    code: str, limits: SandboxLimits, *, namespaces: bool
) -> tuple[dict[str, Any], str, str, bool]:
    base = Path(tempfile.mkdtemp(prefix="agentlab-sandbox-"))
    try:
        work = base / "work"  # the code's cwd without namespaces; the helpers' cwd with them
        work.mkdir()
        (base / "root").mkdir()
        program = base / "main.py"
        program.write_text(code, encoding="utf-8", errors="replace")
        status_r, status_w = os.pipe()
        try:
            config = _config(limits, base, namespaces=namespaces, status_fd=status_w)
            with open(program, "rb") as stdin:
                proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", _CHILD_SCRIPT, json.dumps(config)],
                    stdin=stdin,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    pass_fds=(status_w,),
                    cwd=work,
                    env={},
                    start_new_session=True,  # one process group to kill, apart from the agent
                )
            os.close(status_w)
            status_w = -1
            return _collect(proc, status_r, limits)
        finally:
            for fd in (status_r, status_w):
                if fd >= 0:
                    os.close(fd)
    finally:
        _remove_tree(base)


def _config(
    limits: SandboxLimits, base: Path, *, namespaces: bool, status_fd: int
) -> dict[str, Any]:
    """What ``_sandbox_child.py`` reads from its argument."""
    interpreter = _interpreter()
    in_sandbox = "/work" if namespaces else str(base / "work")
    cpu, files = limits.cpu_time_s, limits.max_open_files
    return {
        "namespaces": namespaces,
        "interpreter": interpreter,
        "prefixes": sorted(
            {os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix)}
        ),
        "root": str(base / "root"),
        "disk_mb": limits.disk_mb,
        "status_fd": status_fd,
        "parent_pid": os.getpid(),
        "rlimits": {
            "CPU": [cpu, cpu + 1],  # SIGXCPU first, SIGKILL a second later if it is caught
            "AS": [limits.memory_mb * _MIB] * 2,
            "FSIZE": [limits.file_size_mb * _MIB] * 2,
            "NOFILE": [files, files],
            "CORE": [0, 0],
        },
        "max_processes": limits.max_processes,
        "env": {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "HOME": in_sandbox,
            "TMPDIR": in_sandbox,
            "LANG": "C.UTF-8",
            "MALLOC_ARENA_MAX": "2",  # glibc reserves 64 MiB per thread otherwise: RLIMIT_AS
        },
    }


def _interpreter() -> str:
    """The installation's own python: a venv's may live in the project, which stays hidden."""
    real = os.path.realpath(sys.executable)
    prefix = os.path.realpath(sys.base_prefix)
    if real.startswith(prefix + os.sep):
        return real
    candidate = os.path.join(prefix, "bin", f"python{sys.version_info[0]}.{sys.version_info[1]}")
    return candidate if os.path.exists(candidate) else real


class _Capture:
    """Keeps the head and the tail of a stream, counting (not storing) what lies between."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.limit = 4 * max_chars  # bytes enough for max_chars characters of UTF-8
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped_chars = 0

    def feed(self, data: bytes) -> None:
        room = self.limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        if len(self.tail) > self.limit:
            cut = len(self.tail) - self.limit
            # UTF-8 continuation bytes do not start a character
            self.dropped_chars += len(bytes(self.tail[:cut]).translate(None, _CONTINUATION))
            del self.tail[:cut]

    def text(self) -> str:
        keep_head = self.max_chars // 2
        keep_tail = self.max_chars - keep_head
        if not self.dropped_chars:
            whole = (self.head + self.tail).decode("utf-8", errors="replace")
            if len(whole) <= self.max_chars:
                return whole
            head, tail = whole[:keep_head], whole[-keep_tail:]
            cut = len(whole) - keep_head - keep_tail
        else:
            head_text = self.head.decode("utf-8", errors="replace")
            tail_text = self.tail.decode("utf-8", errors="replace")
            head, tail = head_text[:keep_head], tail_text[-keep_tail:]
            cut = len(head_text) - len(head) + self.dropped_chars + len(tail_text) - len(tail)
        return f"{head}\n[... {cut} more characters cut]\n{tail}"


_CONTINUATION = bytes(range(0x80, 0xC0))


def _collect(
    proc: subprocess.Popen[bytes], status_fd: int, limits: SandboxLimits
) -> tuple[dict[str, Any], str, str, bool]:
    """Read the three pipes until they close, killing the process group at the deadline."""
    stdout, stderr = cast(IO[bytes], proc.stdout), cast(IO[bytes], proc.stderr)
    out, err = _Capture(limits.max_output_chars), _Capture(limits.max_output_chars)
    status = bytearray()
    sinks: dict[int, Callable[[bytes], object]] = {
        stdout.fileno(): out.feed,
        stderr.fileno(): err.feed,
        status_fd: status.extend,
    }
    deadline = time.monotonic() + limits.wall_time_s
    ended_at: float | None = None  # when the monitor ended or was killed
    timed_out = False
    with selectors.DefaultSelector() as selector:
        for fd in sinks:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            now = time.monotonic()
            if ended_at is None:
                ended = _has_ended(proc.pid)
                if ended or now >= deadline:
                    timed_out = not ended
                    _kill_group(proc.pid)  # also whatever the code left running in its group
                    ended_at = now
            if ended_at is None:
                wait = min(0.05, deadline - now)
            else:
                wait = ended_at + _DRAIN_S - now
                if wait <= 0:
                    break  # a process that left the group still holds a pipe; stop waiting
            for key, _ in selector.select(max(wait, 0.001)):
                data = os.read(key.fd, 65536)
                if data:
                    sinks[key.fd](data)
                else:
                    selector.unregister(key.fd)
    _kill_group(proc.pid)
    proc.wait()
    stdout.close()
    stderr.close()
    try:  # the first report wins: a helper's failure comes before the code's end
        parsed: dict[str, Any] = json.loads(bytes(status).split(b"\n", 1)[0])
    except ValueError:
        parsed = {}  # killed before anyone reported
    return parsed, out.text(), err.text(), timed_out


def _has_ended(pid: int) -> bool:
    """True once the monitor exited; WNOWAIT keeps its pid (and process group) reserved."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _killed_reason(
    status: dict[str, Any], stderr: str, limits: SandboxLimits, timed_out: bool
) -> str | None:
    if timed_out:
        return f"wall-clock timeout after {limits.wall_time_s:g} s"
    if "error" in status:
        return f"sandbox setup failed at {status.get('stage')} ({status['error']})"
    number = status.get("signal")
    if number == signal.SIGXCPU:
        return f"CPU time limit ({limits.cpu_time_s} s)"
    if number == signal.SIGXFSZ:
        return f"file size limit ({limits.file_size_mb} MiB)"
    if isinstance(number, int):
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(number).name}"
        return f"killed by signal {number}"
    if not status:
        return "the sandbox ended without reporting a status"
    last = stderr.rstrip().rsplit("\n", 1)[-1]  # an uncaught exception's last line
    if status.get("exit") and last.startswith("MemoryError"):
        return f"memory limit ({limits.memory_mb} MiB)"
    if status.get("exit") and "[Errno 27]" in last:  # EFBIG: python ignores SIGXFSZ
        return f"file size limit ({limits.file_size_mb} MiB)"
    return None


def _remove_tree(path: Path) -> None:
    """Delete the run's directory, even where the code took its own permissions away."""
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        for parent, dirs, _ in os.walk(path):  # top-down: fixed before it descends
            for name in dirs:
                child = os.path.join(parent, name)
                if not os.path.islink(child):  # chmod follows links, maybe out of the tree
                    with contextlib.suppress(OSError):
                        os.chmod(child, 0o700)
        shutil.rmtree(path, ignore_errors=True)
