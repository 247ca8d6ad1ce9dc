"""Settings: CLI flags > env (``AGENTLAB_*``) > ``$AGENTLAB_HOME/config.toml`` > defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from agentlab.errors import UsageError

__all__ = [
    "DEFAULT_MODEL",
    "FAST_MODEL",
    "ApprovalMode",
    "Chunking",
    "ContextPolicy",
    "Embedder",
    "ExtraBuffers",
    "KvType",
    "Retrieval",
    "Settings",
    "default_budget",
    "load_settings",
]

DEFAULT_MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"
FAST_MODEL = "qwen2.5-coder-0.5b-instruct-q4_k_m"  # same tokenizer and template, ~2x faster

KvType = Literal["f16", "q8_0", "q4_0"]
ApprovalMode = Literal["acting", "all", "none"]
ContextPolicy = Literal["cache-aware", "sliding", "none"]
Embedder = Literal["llama", "minilm", "hash"]
Retrieval = Literal["hybrid", "dense", "sparse"]
Chunking = Literal["fixed", "headings", "parent-child"]
ExtraBuffers = Literal["auto", "on", "off"]


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
    cpu_extra_buffers: ExtraBuffers = Field(
        default="auto",
        description="llama.cpp's repacked CPU weight buffers; auto = off on CPUs with AMX",
    )
    kv_type_k: KvType = Field(default="f16", description="KV cache type of the keys")
    kv_type_v: KvType = Field(default="f16", description="KV cache type of the values")
    kv_disk_cache: bool = Field(
        default=True,
        description="keep the prompt head's KV cells on disk so a new process skips its prefill",
    )
    lookup_tokens: int = Field(
        default=4, ge=0, le=32, description="prompt-lookup guesses checked per decode step; 0 = off"
    )
    cascade_margin: float = Field(
        default=1.0,
        ge=0,
        description="--model auto: the fast model keeps a turn whose branch (answer, or "
        "which tool) it chose by at least this many logits",
    )
    flash_attn: bool | None = Field(
        default=None, description="flash attention; unset = on exactly when V is quantized"
    )
    context_policy: ContextPolicy = Field(
        default="cache-aware", description="how history is kept within the token budget"
    )
    context_budget: int | None = Field(
        default=None, ge=128, description="prompt tokens per model call; unset = 90% of n_ctx"
    )
    context_high: float = Field(
        default=0.9, gt=0, le=1, description="prune when the prompt passes this budget fraction"
    )
    context_low: float = Field(
        default=0.5, gt=0, le=1, description="and then cut it down to this fraction"
    )
    summary_tokens: int = Field(default=160, ge=16, description="bound of the running summary")
    max_tool_output_tokens: int | None = Field(
        default=None, ge=16, description="longer tool outputs are cut; unset = budget / 8"
    )
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int = 0
    max_steps: int = Field(default=8, ge=1, description="model calls per run before giving up")
    max_answer_tokens: int = Field(default=256, ge=16, description="tokens per model turn")
    approval: ApprovalMode = Field(
        default="acting", description="which tool calls wait for approval: acting, all or none"
    )
    approve_tools: list[str] = Field(
        default_factory=list, description="tools whose calls always wait for approval"
    )
    auto_tools: list[str] = Field(
        default_factory=list, description="tools whose calls never wait for approval"
    )
    cost_aware: bool = Field(
        default=True,
        description="offer cheap, reliable tools first and withhold failing ones for a while",
    )
    max_tool_calls: int | None = Field(default=None, ge=1, description="tool calls per run")
    max_run_tokens: int | None = Field(
        default=None, ge=1, description="prompt + completion tokens per run"
    )
    max_wall_s: float | None = Field(
        default=None, gt=0, description="seconds per run, not counting approval waits"
    )
    memory: bool = Field(default=True, description="recall memories before a run, record it after")
    memory_tools: bool = Field(
        default=False, description="offer the model remember/recall tools (when memory is on)"
    )
    memory_url: str | None = Field(
        default=None, description="a Chroma server (`chroma run`) instead of the embedded store"
    )
    memory_namespace: str = Field(
        default="default", min_length=1, description="whose memories: a user, team or agent"
    )
    embedder: Embedder = Field(
        default="llama",
        description="llama (a GGUF via llama.cpp), minilm (agentlab[st]) or hash (word hashing, "
        "no model: for tests and trials)",
    )
    embedding_model: str | None = Field(
        default=None, description="GGUF name or path for llama embeddings; unset = the chat model"
    )
    retrieval: Retrieval = Field(default="hybrid", description="hybrid, dense or sparse")
    recall_tokens: int = Field(
        default=256, ge=0, description="bound of the memories recalled into the prompt head"
    )
    memory_half_life_days: float = Field(
        default=30.0, gt=0, description="episode recency halves this often"
    )
    memory_capacity: int = Field(
        default=1000, ge=2, description="episodes kept before old ones are consolidated"
    )
    knowledge: str | None = Field(
        default=None,
        min_length=1,
        description="the knowledge collection agents search (agentlab knowledge add); unset = none",
    )
    judge_model: str | None = Field(
        default=None,
        description="the model that judges answers' faithfulness in eval; unset = the default",
    )
    backend: str | None = Field(
        default=None,
        description="a model server instead of the in-process model: http://HOST:PORT "
        "(llama-server, agentlab serve-model) or openai+http://HOST:PORT/v1 (vLLM and similar)",
    )
    llama_server: Path | None = Field(
        default=None,
        description="the llama-server binary for serve-model; unset = `make server`'s build, "
        "else llama-server on PATH",
    )
    chunking: Chunking = Field(
        default="parent-child",
        description="how documents are cut: fixed windows, headings, or parent-child (small "
        "chunks matched, their section read)",
    )

    database_url: str | None = Field(
        default=None,
        description="Postgres (postgresql://...) for checkpoints, thread records and tool records; "
        "unset = SQLite files under home",
    )

    @field_validator("backend")
    @classmethod
    def _backend_url(cls, value: str | None) -> str | None:
        from agentlab.llm._backend import check_backend

        return None if value is None else check_backend(value)

    @field_validator("home", "model_dir", "llama_server")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("give a Postgres URL, postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        room = self.n_ctx - self.max_answer_tokens
        if self.context_budget is not None and self.context_budget > room:
            raise ValueError(
                f"context_budget {self.context_budget} leaves no room for the answer: at most "
                f"n_ctx - max_answer_tokens = {room}"
            )
        overlap = sorted(set(self.approve_tools) & set(self.auto_tools))
        if overlap:
            raise ValueError(f"{', '.join(overlap)} cannot be in both approve_tools and auto_tools")
        if self.context_low >= self.context_high:
            raise ValueError(
                f"context_low ({self.context_low}) must be below context_high "
                f"({self.context_high}): prune from the high watermark down to the low one"
            )
        if self.flash_attn is False and self.kv_type_v != "f16":
            raise ValueError(
                f"kv_type_v={self.kv_type_v} needs flash attention in llama.cpp; leave flash_attn "
                "unset (or true), or use kv_type_v=f16"
            )
        return self

    @property
    def use_flash_attn(self) -> bool:
        return self.kv_type_v != "f16" if self.flash_attn is None else self.flash_attn

    @property
    def budget(self) -> int:
        """Prompt tokens per model call."""
        return self.context_budget or default_budget(self.n_ctx, self.max_answer_tokens)

    @property
    def tool_output_tokens(self) -> int:
        return self.max_tool_output_tokens or self.budget // 8

    @property
    def tool_db_path(self) -> Path:
        """Tool-call journal and per-tool statistics."""
        return self.home / "tools.sqlite"

    @property
    def checkpoint_path(self) -> Path:
        """LangGraph's checkpoints (its own file: agentlab writes nothing else into it)."""
        return self.home / "checkpoints.sqlite"

    @property
    def threads_path(self) -> Path:
        """agentlab's records of the command line's threads: how each was started and ended."""
        return self.home / "threads.sqlite"

    @property
    def memory_path(self) -> Path:
        """Memories (SQLite), facts and the embedded Chroma store."""
        return self.home / "memory"

    @property
    def knowledge_path(self) -> Path:
        """The user's documents, chunked and indexed (agentlab knowledge)."""
        return self.home / "knowledge"

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


def default_budget(n_ctx: int, answer_tokens: int) -> int:
    """90% of the context for the prompt, and never less room than one answer needs."""
    return min(int(n_ctx * 0.9), n_ctx - answer_tokens)


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning invalid values into a :class:`UsageError` that names them."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(_problem(err["loc"], err["msg"]) for err in exc.errors())
        raise UsageError(f"invalid settings: {problems}") from None


def _problem(location: tuple[int | str, ...], message: str) -> str:
    message = message.removeprefix("Value error, ")
    return f"{'.'.join(str(p) for p in location)}: {message}" if location else message
