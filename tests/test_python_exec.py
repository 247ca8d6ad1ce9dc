"""python_exec and its sandbox: real processes, real limits, real attacks; no mocks."""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agentlab.tools import _sandbox as sandbox
from agentlab.tools._sandbox import SandboxLimits, SandboxResult, namespace_problem, run_sandboxed
from agentlab.tools.python_exec import make_python_exec, python_exec

REPO = Path(__file__).resolve().parents[1]
PROBLEM = namespace_problem()
needs_namespaces = pytest.mark.skipif(
    PROBLEM is not None, reason=f"no namespace isolation on this machine: {PROBLEM}"
)
QUICK = SandboxLimits(wall_time_s=5, cpu_time_s=2)


def run(code: str, **limits: Any) -> SandboxResult:
    return run_sandboxed(code, replace(QUICK, **limits))


def assert_still_works() -> None:
    """After an attack, the next run behaves normally (the agent keeps going)."""
    result = run("print('still here')")
    assert (result.stdout, result.exit_code, result.killed_reason) == ("still here\n", 0, None)


def processes_with(marker: str) -> list[int]:
    """Pids on the host whose command line carries ``marker`` (waits up to 2 s for them to go)."""
    found: list[int] = []
    for _ in range(20):
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
        if not found:
            break
        time.sleep(0.1)
    return found


def test_output_exit_code_and_isolation_are_reported() -> None:
    result = run("import sys\nprint(6 * 7)\nprint('oops', file=sys.stderr)\nsys.exit(3)")
    assert (result.stdout, result.stderr, result.exit_code) == ("42\n", "oops\n", 3)
    assert not result.timed_out and result.killed_reason is None
    if PROBLEM is None:
        assert result.isolation == "namespaces"
    else:
        assert result.isolation.startswith("none (")


def test_tool_reports_output_errors_and_limits() -> None:
    assert python_exec.name == "python_exec" and list(python_exec.args) == ["code"]
    assert "10 s" in python_exec.description
    assert python_exec.invoke({"code": "print('hi')"}) == "hi"
    failed = python_exec.invoke({"code": "x = 1\n1 / 0"})
    assert "ZeroDivisionError: division by zero" in failed and "[exit code 1]" in failed
    slow = make_python_exec(SandboxLimits(wall_time_s=1)).invoke(
        {"code": "import time\nprint('before')\ntime.sleep(30)"}
    )
    assert slow.startswith("before\n") and "[stopped: wall-clock timeout after 1 s]" in slow


@needs_namespaces
def test_network_is_unreachable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        code = (
            "import socket\n"
            f"for address in [('127.0.0.1', {port}), ('1.1.1.1', 53)]:\n"
            "    try:\n"
            "        socket.create_connection(address, timeout=2)\n"
            "        print('connected')\n"
            "    except OSError as exc:\n"
            "        print('blocked', type(exc).__name__)\n"
        )
        result = run(code)
        listener.settimeout(0)
        with pytest.raises(BlockingIOError):  # nobody knocked
            listener.accept()
    assert result.stdout.count("blocked") == 2 and "connected" not in result.stdout
    assert_still_works()


@needs_namespaces
def test_process_count_is_limited_and_nothing_survives() -> None:
    marker = f"sandbox-test-{uuid.uuid4().hex}"
    code = (
        "import os, sys\n"
        "started = 0\n"
        "try:\n"
        "    while started < 100:\n"
        "        if os.fork() == 0:\n"
        "            os.setsid()  # leaves the process group: only the pid namespace catches it\n"
        "            argv = [sys.executable, '-c', 'import time; time.sleep(60)', "
        f"'{marker}']\n"
        "            os.execv(sys.executable, argv)\n"
        "        started += 1\n"
        "except OSError as exc:\n"
        "    print('refused after', started, type(exc).__name__)\n"
    )
    result = run(code, max_processes=8)
    assert result.stdout.startswith("refused after") and "BlockingIOError" in result.stdout
    assert int(result.stdout.split()[2]) < 8
    assert processes_with(marker) == []
    assert_still_works()


@needs_namespaces
def test_fork_bomb_is_stopped_quickly() -> None:
    bomb = (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    )
    result = run(bomb, max_processes=16, wall_time_s=2)
    assert result.timed_out and result.killed_reason == "wall-clock timeout after 2 s"
    assert result.exit_code is None and result.wall_s < 6
    assert_still_works()


def test_memory_limit() -> None:
    result = run("data = bytearray(4 * 1024**3)")
    assert "MemoryError" in result.stderr and result.exit_code == 1
    assert result.killed_reason == "memory limit (512 MiB)"
    assert_still_works()


def test_file_size_limit() -> None:
    result = run(
        "with open('big', 'wb') as f:\n    f.write(b'x' * (2 * 1024 * 1024))", file_size_mb=1
    )
    assert "File too large" in result.stderr and result.killed_reason == "file size limit (1 MiB)"


def test_busy_loop_hits_the_cpu_limit() -> None:
    result = run("print('looping')\nwhile True:\n    pass", cpu_time_s=1, wall_time_s=10)
    assert result.killed_reason == "CPU time limit (1 s)" and result.exit_code is None
    assert result.stdout == "looping\n"  # printed before the kill: output is unbuffered
    assert result.wall_s < 6
    assert_still_works()


def test_sleeping_code_hits_the_wall_clock_limit() -> None:
    result = run("import time\ntime.sleep(60)", wall_time_s=1.5)
    assert result.timed_out and result.killed_reason == "wall-clock timeout after 1.5 s"
    assert result.wall_s < 4


@needs_namespaces
def test_cannot_write_outside_the_working_directory(tmp_path: Path) -> None:
    name = f"escaped-{uuid.uuid4().hex}.txt"  # unique, so a broken sandbox's files are ours
    outside = [tmp_path / name, Path("/usr") / name, Path("/") / name, Path("/etc") / name]
    code = (
        "import os\n"
        f"os.makedirs({str(tmp_path)!r}, exist_ok=True)  # a private copy at most\n"
        f"for path in {[str(p) for p in outside]!r}:\n"
        "    try:\n"
        "        with open(path, 'w') as f:\n"
        "            f.write('out')\n"
        "        print('wrote', path)\n"
        "    except OSError as exc:\n"
        "        print('refused', path, type(exc).__name__)\n"
    )
    try:
        result = run(code)
        assert [p for p in outside if p.exists()] == []
    finally:
        for path in outside:
            path.unlink(missing_ok=True)
    # The three system paths are read-only; tmp_path only exists as a private copy inside.
    assert result.stdout.count("refused") == 3, result.stdout
    assert_still_works()


@needs_namespaces
def test_cannot_read_the_project_or_home(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    paths = [str(Path(__file__).resolve()), str(REPO / "pyproject.toml"), str(secret)]
    home = Path.home()
    code = (
        "import json, os\n"
        f"for path in {paths!r}:\n"
        "    try:\n"
        "        print('read', open(path).read()[:20])\n"
        "    except OSError as exc:\n"
        "        print('refused', type(exc).__name__)\n"
        f"print(json.dumps(os.listdir({str(home)!r}) if os.path.isdir({str(home)!r}) else []))\n"
    )
    lines = run(code).stdout.splitlines()
    assert lines[:3] == ["refused FileNotFoundError"] * 3, lines
    # Home shows at most the first step towards a Python installation inside it, nothing else.
    prefix = Path(sys.base_prefix).resolve()
    on_the_way = {prefix.relative_to(home).parts[0]} if prefix.is_relative_to(home) else set()
    assert set(json.loads(lines[3])) <= on_the_way


def test_huge_output_is_truncated_with_a_note() -> None:
    result = run("print('x' * 1_000_000)\nprint('end')", max_output_chars=1000)
    total = len("x" * 1_000_000 + "\nend\n")
    assert result.stdout.startswith("x" * 500) and result.stdout.endswith("x\nend\n")
    assert f"[... {total - 1000} more characters cut]" in result.stdout
    assert len(result.stdout) < 1100


def test_endless_output_stays_bounded() -> None:
    result = run("while True:\n    print('y' * 10_000)", wall_time_s=2, max_output_chars=500)
    assert result.killed_reason is not None and len(result.stdout) < 600
    assert "more characters cut]" in result.stdout


def test_binary_output_is_decoded_with_replacement() -> None:
    code = "import sys\nsys.stdout.buffer.write(b'ok \\xff\\xfe\\n')\n"
    code += "sys.stderr.buffer.write(b'\\x80')"
    result = run(code)
    assert (result.stdout, result.stderr) == ("ok \ufffd\ufffd\n", "\ufffd")


def test_working_directory_is_private_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    code = "import os\nprint(os.listdir())\nopen('left.txt', 'w').write('x')\nprint(os.listdir())"
    first, second = run(code), run(code)
    assert first.stdout == second.stdout == "[]\n['left.txt']\n"
    assert list(tmp_path.iterdir()) == []


def test_environment_is_not_inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTLAB_TEST_TOKEN", "s3cret-token")
    result = run("import os\nprint(sorted(os.environ.items()))")
    assert "s3cret-token" not in result.stdout and "HOME" in result.stdout


@needs_namespaces
def test_code_has_no_privileges() -> None:
    code = (
        "import ctypes, os\n"
        "lines = open('/proc/self/status').read().splitlines()\n"
        "status = dict(line.split(':\\t', 1) for line in lines)\n"
        "print(status['CapEff'], status['CapBnd'], status['NoNewPrivs'])\n"
        "print(os.getuid())\n"
        "print(ctypes.CDLL(None, use_errno=True).unshare(0x10000000))  # a new user namespace\n"
    )
    lines = run(code).stdout.splitlines()
    assert lines[0] == "0000000000000000 0000000000000000 1"
    if os.geteuid() == 0:
        assert lines[1] != "0"  # host root runs the code as nobody
    assert lines[2] == "-1"


@needs_namespaces
def test_falls_back_where_user_namespaces_are_refused() -> None:
    """Inside the sandbox nested user namespaces are forbidden: a real refusal to fall back on."""
    source = Path(sandbox.__file__).read_text()
    child = Path(sandbox.__file__).with_name("_sandbox_child.py").read_text()
    code = (
        "import sys\n"
        f"open('sandbox_copy.py', 'w').write({source!r})\n"
        f"open('_sandbox_child.py', 'w').write({child!r})\n"
        "sys.path.insert(0, '.')\n"
        "import sandbox_copy\n"
        "result = sandbox_copy.run_sandboxed('print(6 * 7)')\n"
        "print(result.isolation)\n"
        "print(repr(result.stdout), result.exit_code)\n"
    )
    lines = run(code, wall_time_s=20).stdout.splitlines()
    assert lines[0].startswith("none (user namespaces unavailable (")
    assert lines[0].endswith(": network and filesystem are not isolated)")
    assert lines[1] == "'42\\n' 0"


def test_without_namespaces_the_result_says_so() -> None:
    marker = f"sandbox-test-{uuid.uuid4().hex}"
    code = (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', "
        f"'{marker}'], start_new_session=True, stdout=subprocess.DEVNULL)\n"
        "print('left a daemon')\n"
    )
    result = run(code, use_namespaces=False)
    assert result.stdout == "left a daemon\n"
    assert result.isolation.startswith("none (") and "not isolated" in result.isolation
    assert processes_with(marker) == []  # killed even though it left the process group
    memory = run("data = bytearray(4 * 1024**3)", use_namespaces=False)
    assert memory.killed_reason == "memory limit (512 MiB)"  # rlimits still apply
    report = make_python_exec(SandboxLimits(use_namespaces=False)).invoke({"code": "print(1)"})
    assert report.startswith("1\n[warning: sandbox isolation is none (")


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="memory_mb must be positive"):
        SandboxLimits(memory_mb=0)
