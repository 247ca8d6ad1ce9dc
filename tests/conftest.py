"""Shared fixtures: isolated AGENTLAB_HOME, and the real model for ``llm`` tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentlab.config import Settings
from agentlab.models import KNOWN_MODELS, resolve_model

REPO = Path(__file__).resolve().parents[1]
MODEL_DIR = Path(os.environ.get("AGENTLAB_MODEL_DIR", "~/.cache/agentlab/models")).expanduser()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own AGENTLAB_HOME; the model dir stays shared (it is read-only here)."""
    home = tmp_path / "home"
    monkeypatch.setenv("AGENTLAB_HOME", str(home))
    monkeypatch.setenv("AGENTLAB_MODEL_DIR", str(MODEL_DIR))
    return home


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The default model, pulled by ``make test`` before pytest runs."""
    return resolve_model(next(iter(KNOWN_MODELS)), MODEL_DIR)


@pytest.fixture(scope="session")
def chat_model(model_path: Path) -> Iterator[object]:
    from agentlab.llm import LlamaChatModel

    settings = Settings(model=str(model_path), model_dir=MODEL_DIR, n_ctx=4096)
    yield LlamaChatModel.from_settings(settings)
