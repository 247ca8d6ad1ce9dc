"""KV-cache options: settings validation, planning, and what llama.cpp really allocates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import MODEL_DIR, agentlab, assert_usage_error

from agentlab.cli._models import parse_size
from agentlab.config import Settings, load_settings
from agentlab.errors import UsageError
from agentlab.gguf_info import kv_cells, plan_kv, read_model_info


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kv_type_k": "q5_1"}, "kv_type_k: Input should be 'f16', 'q8_0' or 'q4_0'"),
        ({"context_low": 0.9, "context_high": 0.5}, "context_low (0.9) must be below"),
        ({"n_ctx": 2048, "context_budget": 4096}, "context_budget 4096 leaves no room"),
        ({"kv_type_v": "q8_0", "flash_attn": False}, "kv_type_v=q8_0 needs flash attention"),
    ],
)
def test_invalid_combinations_are_usage_errors(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(UsageError, match="invalid settings") as caught:
        load_settings(**overrides)
    assert message in str(caught.value)


def test_flash_attention_follows_a_quantized_v_cache() -> None:
    assert not Settings(kv_type_k="q8_0").use_flash_attn
    assert Settings(kv_type_v="q4_0").use_flash_attn
    assert Settings(flash_attn=True).use_flash_attn


def test_budget_defaults_leave_room_for_the_answer() -> None:
    settings = Settings(n_ctx=2048, max_answer_tokens=256)
    assert settings.budget == 1792 and settings.tool_output_tokens == 224
    assert Settings(n_ctx=8192).budget == 7372


def test_sizes_parse_with_units() -> None:
    assert parse_size("8GiB") == 8 * 2**30 and parse_size("512 MB") == 512 * 10**6
    assert parse_size("1000") == 1000
    with pytest.raises(UsageError, match="not a size"):
        parse_size("lots")


def test_cells_round_up_like_llama_cpp() -> None:
    assert [kv_cells(n) for n in (256, 300, 4096)] == [256, 512, 4096]


@pytest.mark.llm
def test_models_info_plans_sessions_for_a_memory_budget(model_path: Path) -> None:
    done = agentlab("models", "info", "--ctx", "8192", "--kv-type", "q8_0", "--ram", "4GiB",
                    "--json")  # fmt: skip
    plan = json.loads(done.stdout)["kv_plan"][0]
    assert plan["bytes_per_session"] == 8192 * 6528
    assert plan["sessions"] == (4 * 2**30 - model_path.stat().st_size) // (8192 * 6528)
    assert_usage_error(agentlab("models", "info", "--kv-type", "q5"), "unknown --kv-type 'q5'")


@pytest.mark.llm
def test_planned_kv_bytes_match_what_llama_cpp_holds(model_path: Path) -> None:
    """Fill a whole context per KV type and compare its state size with the plan (within 5%)."""
    from agentlab.llm._engine import LlamaEngine

    n_ctx, info, held = 256, read_model_info(model_path), {}
    for kv_type in ("f16", "q8_0", "q4_0"):
        settings = Settings(model=str(model_path), model_dir=MODEL_DIR, n_ctx=n_ctx,
                            kv_type_k=kv_type, kv_type_v=kv_type)  # fmt: skip
        engine = LlamaEngine.load(model_path, settings)
        empty = engine.kv_state_bytes()
        engine.llama.eval(engine.tokenize("the quick brown fox " * 200)[: n_ctx - 1])
        held[kv_type] = (engine.kv_state_bytes() - empty) * n_ctx / (n_ctx - 1)
        planned = plan_kv(info, n_ctx, kv_type).bytes_per_session
        assert abs(held[kv_type] - planned) / planned < 0.05, (kv_type, held, planned)
    assert held["q8_0"] < 0.6 * held["f16"] and held["q4_0"] < 0.6 * held["q8_0"]
