"""Shared fixtures: isolated AGENTLAB_HOME, and the real model for ``llm`` tests.

Tests of mechanics run on the fast 0.5B model (``AGENTLAB_MODEL`` is set for every test);
tests of answer quality ask for ``default_model_path`` or unset ``AGENTLAB_MODEL``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _postgres import database, database_url, private_postgres  # noqa: F401 (fixtures)

from agentlab.config import DEFAULT_MODEL, FAST_MODEL, Settings
from agentlab.models import resolve_model

REPO = Path(__file__).resolve().parents[1]
MODEL_DIR = Path(os.environ.get("AGENTLAB_MODEL_DIR", "~/.cache/agentlab/models")).expanduser()
SNAPSHOTS = Path(__file__).parent / "snapshots"


def agentlab(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """``agentlab ARGS`` as a user runs it: a child process with this test's environment
    (its own AGENTLAB_HOME) plus ``env``."""
    return subprocess.run(
        [sys.executable, "-m", "agentlab", *args], capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **(env or {})}, cwd=cwd, input=stdin,
    )  # fmt: skip


def assert_usage_error(done: subprocess.CompletedProcess[str], message: str) -> None:
    """Exit status 2, the message on stderr, no traceback and nothing on stdout."""
    assert done.returncode == 2, done.stderr
    assert message in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr and done.stdout == ""


def assert_snapshot(drawn: str, name: str) -> None:
    """``drawn`` equals the pinned ``tests/snapshots/NAME``; a missing one shows what to pin."""
    snapshot = SNAPSHOTS / name
    if not snapshot.exists():
        pytest.fail(f"missing snapshot {snapshot}; it should contain:\n{drawn}")
    assert drawn == snapshot.read_text()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own AGENTLAB_HOME; the model dir stays shared (it is read-only here)."""
    home = tmp_path / "home"
    monkeypatch.setenv("AGENTLAB_HOME", str(home))
    monkeypatch.setenv("AGENTLAB_MODEL_DIR", str(MODEL_DIR))
    monkeypatch.setenv("AGENTLAB_MODEL", FAST_MODEL)
    return home


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The fast 0.5B model, pulled by ``make test`` before pytest runs: for mechanics."""
    return resolve_model(FAST_MODEL, MODEL_DIR)


@pytest.fixture(scope="session")
def default_model_path() -> Path:
    """The default 1.5B model: for answer quality."""
    return resolve_model(DEFAULT_MODEL, MODEL_DIR)


@pytest.fixture(scope="session")
def chat_model(model_path: Path) -> Iterator[object]:
    from agentlab.llm import LlamaChatModel

    settings = Settings(model=str(model_path), model_dir=MODEL_DIR, n_ctx=4096)
    yield LlamaChatModel.from_settings(settings)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")  # one per module: their collections stay apart
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``chroma run`` server on a free local port."""
    port = _free_port()
    folder = tmp_path_factory.mktemp("chroma-server")
    log = (folder / "server.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(folder / "data"),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail(f"chroma run did not start: {(folder / 'server.log').read_text()[-2000:]}")
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=20)
    log.close()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Before the long tests: a real prefill, decode and embedding in child processes (the
    doctor's checks), so a crash in llama.cpp stops the run naming the check that failed
    instead of killing pytest half-way with a bare ``Segmentation fault``."""
    wants_model = any(item.get_closest_marker("llm") for item in session.items)
    if session.config.option.collectonly or not wants_model:
        return
    from agentlab.cli._doctor import native_checks

    for model in (FAST_MODEL, DEFAULT_MODEL):
        settings = Settings(model=model, model_dir=MODEL_DIR)
        for check in native_checks(settings):
            if check.status == "fail":
                pytest.exit(
                    f"llama.cpp check '{check.name}' failed with {model}: {check.detail}. "
                    f"Fix: {check.fix}. `agentlab doctor` prints the whole report.",
                    returncode=3,
                )
