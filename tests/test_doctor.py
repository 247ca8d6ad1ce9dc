"""``agentlab doctor`` and the CPU extra-buffer switch: formatting scripted, native checks real."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_cli import agentlab, assert_usage_error

from agentlab.cli import _doctor
from agentlab.cli._doctor import Check, check_embed, check_generate, check_models
from agentlab.config import FAST_MODEL, load_settings
from agentlab.errors import UsageError
from agentlab.llm import extra_buffers_enabled, load_llama
from agentlab.llm._native import build_info, has_amx

AMX = frozenset({"avx512f", "amx_tile", "amx_int8", "amx_bf16"})
NO_AMX = frozenset({"avx2", "fma", "f16c"})


def test_auto_turns_extra_buffers_off_exactly_on_amx_cpus() -> None:
    assert not extra_buffers_enabled("auto", AMX)
    assert extra_buffers_enabled("auto", NO_AMX)
    assert extra_buffers_enabled("on", AMX) and not extra_buffers_enabled("off", NO_AMX)


def test_an_unknown_extra_buffer_value_is_a_usage_error_naming_it() -> None:
    with pytest.raises(UsageError, match="cpu_extra_buffers"):
        load_settings(cpu_extra_buffers="sometimes")


def test_the_cli_names_a_bad_extra_buffer_setting() -> None:
    done = agentlab("doctor", env={"AGENTLAB_CPU_EXTRA_BUFFERS": "maybe"})
    assert_usage_error(done, "cpu_extra_buffers")


def test_the_build_reports_the_cpu_backend() -> None:
    assert "CPU" in build_info()


def test_a_crashed_probe_is_a_failed_check_with_a_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_doctor, "probe", lambda *a: (None, "llama.cpp crashed (SIGSEGV)"))
    settings = load_settings()
    for check in (check_generate(settings, Path("m.gguf")), check_embed(settings, Path("m.gguf"))):
        assert check.status == "fail" and "SIGSEGV" in check.detail
        assert "AGENTLAB_CPU_EXTRA_BUFFERS=off" in check.fix


def test_a_child_killed_by_a_signal_is_named(tmp_path: Path) -> None:
    assert _doctor.describe_exit(-11, "") == "llama.cpp crashed (SIGSEGV)"
    assert _doctor.describe_exit(1, "Traceback\nValueError: bad file") == (
        "exit 1: ValueError: bad file"
    )


def test_a_missing_model_says_how_to_pull_it_and_the_rest_still_runs(tmp_path: Path) -> None:
    done = agentlab("doctor", "--json", env={"AGENTLAB_MODEL_DIR": str(tmp_path / "none")})
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    checks = {check["name"]: check for check in report["checks"]}
    configured = checks[f"model {FAST_MODEL} (configured)"]
    assert configured["status"] == "fail" and configured["fix"] == (
        f"agentlab models pull {FAST_MODEL}"
    )
    assert checks["prefill + decode"]["status"] == "warn"
    for name in ("versions", "backends", "cpu", "chroma", "sqlite fts5", "AGENTLAB_HOME"):
        assert checks[name]["status"] == "ok", checks[name]
    assert report["ok"] is False


def test_the_table_shows_every_check_and_its_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    checks = [Check("alpha", "ok", "fine"), Check("beta", "fail", "broken", "do this")]
    monkeypatch.setattr(_doctor, "run_checks", lambda settings: checks)
    from typer.testing import CliRunner

    from agentlab.cli._app import app

    done = CliRunner().invoke(app, ["doctor"])
    assert done.exit_code == 1
    assert "alpha" in done.output and "broken" in done.output and "fix: do this" in done.output


def test_a_model_that_fails_its_checksum_says_to_pull_again(tmp_path: Path) -> None:
    from agentlab.models import KNOWN_MODELS

    spec = KNOWN_MODELS[FAST_MODEL]
    spec.path_in(tmp_path).write_bytes(b"not a model")
    settings = load_settings(model_dir=tmp_path, model=FAST_MODEL)
    found = {check.name: check for check in check_models(settings)}
    bad = found[f"model {FAST_MODEL} (configured)"]
    assert bad.status == "fail" and "pinned sha256" in bad.detail and "pull" in bad.fix


@pytest.mark.llm
def test_doctor_runs_a_real_prefill_decode_and_embedding(model_path: Path) -> None:
    done = agentlab("doctor", "--json")
    report = json.loads(done.stdout)
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["prefill + decode"]["status"] == "ok", checks["prefill + decode"]
    assert "decode" in checks["prefill + decode"]["detail"]
    embedding = checks["embedding"]
    assert embedding["status"] == "ok" and "dimension 896" in embedding["detail"]
    assert checks[f"model {FAST_MODEL} (configured)"]["detail"].endswith("sha256 verified")
    assert done.returncode == (0 if report["ok"] else 1)


def _buffers(model_path: Path, extra_buffers: bool) -> dict[str, float]:
    loaded = load_llama(model_path, extra_buffers=extra_buffers, n_ctx=256)
    loaded.llama.close()
    return loaded.buffers


@pytest.mark.llm
def test_the_switch_reaches_llama_cpp(model_path: Path) -> None:
    off = _buffers(model_path, extra_buffers=False)
    assert off and not {"AMX", "CPU_REPACK"} & set(off), off
    on = _buffers(model_path, extra_buffers=True)  # loading is safe; decoding over AMX is not
    assert {"AMX", "CPU_REPACK"} & set(on), on


@pytest.mark.llm
@pytest.mark.skipif(not has_amx(), reason="the crash is specific to CPUs with AMX")
def test_on_an_amx_cpu_extra_buffers_crash_and_auto_does_not(model_path: Path) -> None:
    settings: Any = load_settings(cpu_extra_buffers="on")
    crashed = check_generate(settings, model_path)
    assert crashed.status == "fail" and "crashed" in crashed.detail
    assert check_generate(load_settings(), model_path).status == "ok"


@pytest.mark.llm
@pytest.mark.skipif(not has_amx(), reason="needs a CPU where llama.cpp crashes (AMX)")
def test_a_native_crash_stops_the_suite_naming_the_check() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "AGENTLAB_CPU_EXTRA_BUFFERS": "on"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_llm.py"],
        capture_output=True, text=True, env=env, cwd=Path(__file__).parents[1], timeout=900,
    )  # fmt: skip
    assert done.returncode == 3, done.stdout[-2000:]
    assert "llama.cpp check 'prefill + decode' failed" in done.stdout
    assert "crashed (SIG" in done.stdout and "passed" not in done.stdout
