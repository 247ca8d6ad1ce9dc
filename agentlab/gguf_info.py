"""What a GGUF file says about its model, and what its KV cache costs per token."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agentlab.errors import ModelFileError

__all__ = [
    "KV_BYTES_PER_ELEMENT",
    "KV_FORMULA",
    "KvPlan",
    "ModelInfo",
    "kv_cells",
    "plan_kv",
    "read_model_info",
]

# ggml block sizes: q8_0 stores 32 values in 34 bytes, q4_0 stores 32 values in 18 bytes.
KV_BYTES_PER_ELEMENT: dict[str, float] = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}
KV_FORMULA = "layers x KV heads x head dim x 2 (K and V) x bytes per element"
_CELL_PADDING = 256  # llama.cpp rounds the context up to a multiple of 256 KV cells


@dataclass(frozen=True)
class ModelInfo:
    path: str
    name: str
    architecture: str
    layers: int
    query_heads: int
    kv_heads: int
    head_dim: int
    context_length: int
    file_size: int

    @property
    def gqa_group_size(self) -> int:
        return self.query_heads // self.kv_heads

    def kv_bytes_per_token(self, kv_type: str) -> float:
        """KV-cache bytes one token occupies, by :data:`KV_FORMULA`."""
        per_element = KV_BYTES_PER_ELEMENT[kv_type]
        return self.layers * self.kv_heads * self.head_dim * 2 * per_element

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["gqa_group_size"] = self.gqa_group_size
        data["kv_bytes_per_token"] = {t: self.kv_bytes_per_token(t) for t in KV_BYTES_PER_ELEMENT}
        data["kv_formula"] = KV_FORMULA
        return data


def kv_cells(n_ctx: int) -> int:
    """KV cells llama.cpp allocates for a context of ``n_ctx`` tokens."""
    return -(-n_ctx // _CELL_PADDING) * _CELL_PADDING


@dataclass(frozen=True)
class KvPlan:
    """The KV cache of one session (context) and how many fit a memory budget."""

    kv_type: str
    ctx: int
    cells: int
    bytes_per_session: int
    memory: int | None  # budget for weights (loaded once) plus every session's KV cache
    sessions: int | None


def plan_kv(info: ModelInfo, ctx: int, kv_type: str, memory: int | None = None) -> KvPlan:
    cells = kv_cells(ctx)
    per_session = round(cells * info.kv_bytes_per_token(kv_type))
    sessions = None if memory is None else max(0, memory - info.file_size) // per_session
    return KvPlan(kv_type, ctx, cells, per_session, memory, sessions)


def read_model_info(path: Path) -> ModelInfo:
    """Read architecture and attention shape from the GGUF header; fail clearly on bad files."""
    from gguf import GGUFReader  # heavy import (numpy); only when needed

    try:
        reader = GGUFReader(path, "r")
    except Exception as exc:  # the reader raises bare ValueError/IndexError on damage
        raise ModelFileError(
            f"{path} is not a readable GGUF file ({type(exc).__name__}: {exc}); "
            "it may be truncated or corrupt, re-download it"
        ) from None

    def field(key: str) -> Any:
        found = reader.fields.get(key)
        return None if found is None else found.contents()

    arch = field("general.architecture")
    if not isinstance(arch, str):
        raise ModelFileError(f"{path} has no general.architecture; not a model GGUF")

    def number(key: str) -> int:
        value = field(f"{arch}.{key}")
        if not isinstance(value, int):
            raise ModelFileError(f"{path} lacks {arch}.{key}; cannot describe its attention")
        return value

    query_heads = number("attention.head_count")
    key_length = field(f"{arch}.attention.key_length")
    head_dim = (
        key_length if isinstance(key_length, int) else number("embedding_length") // query_heads
    )
    return ModelInfo(
        path=str(path),
        name=str(field("general.name") or path.stem),
        architecture=arch,
        layers=number("block_count"),
        query_heads=query_heads,
        kv_heads=number("attention.head_count_kv"),
        head_dim=head_dim,
        context_length=number("context_length"),
        file_size=path.stat().st_size,
    )
