"""Shared fixtures: isolated AGENTLAB_HOME, and the real model for ``llm`` tests.

Tests of mechanics run on the fast 0.5B model (``AGENTLAB_MODEL`` is set for every test);
tests of answer quality ask for ``default_model_path`` or unset ``AGENTLAB_MODEL``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentlab.config import DEFAULT_MODEL, FAST_MODEL, Settings
from agentlab.models import resolve_model

REPO = Path(__file__).resolve().parents[1]
MODEL_DIR = Path(os.environ.get("AGENTLAB_MODEL_DIR", "~/.cache/agentlab/models")).expanduser()


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
