"""Settings: CLI flags > env (``AGENTLAB_*``) > ``$AGENTLAB_HOME/config.toml`` > defaults."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from agentlab.errors import UsageError

__all__ = ["DEFAULT_MODEL", "Settings", "load_settings"]

DEFAULT_MODEL = "qwen2.5-coder-0.5b-instruct-q4_k_m"


def _default_home() -> Path:
    return Path(os.environ.get("AGENTLAB_HOME", "~/.agentlab")).expanduser()


class Settings(BaseSettings):
    """Runtime settings of agentlab; every field can be set as ``AGENTLAB_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="AGENTLAB_", extra="forbid")

    home: Path = Field(default_factory=_default_home, description="checkpoints, traces, stores")
    model_dir: Path = Field(
        default=Path("~/.cache/agentlab/models"), description="where pulled GGUF files live"
    )
    model: str = Field(default=DEFAULT_MODEL, description="a known model name or a GGUF path")
    n_ctx: int = Field(default=8192, ge=256, description="context window in tokens")
    n_threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, description="decode threads"
    )
    n_threads_batch: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, description="prefill threads"
    )
    n_gpu_layers: int = Field(default=0, ge=-1, description="layers offloaded to GPU; -1 = all")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int = 0
    max_steps: int = Field(default=8, ge=1, description="model calls per run before giving up")
    max_answer_tokens: int = Field(default=256, ge=16, description="tokens per model turn")

    @field_validator("home", "model_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def checkpoint_path(self) -> Path:
        return self.home / "checkpoints.sqlite"

    @property
    def trace_dir(self) -> Path:
        return self.home / "traces"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_default_home() / "config.toml")
        return (init_settings, env_settings, toml)


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning invalid values into a :class:`UsageError` that names them."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise UsageError(f"invalid settings: {problems}") from None
