"""This CPU and the llama.cpp build: what they offer, and loading a model safely on them.

llama.cpp can put weights in "extra" CPU buffer types that repack them for faster kernels:
``CPU_REPACK`` (AVX2/AVX512 layouts for Q4 types) and, on CPUs with AMX, an ``AMX`` buffer.
With llama-cpp-python 0.3.36 built natively on an AMX CPU, every multi-token decode over AMX
buffers segfaults, so ``cpu_extra_buffers=auto`` turns extra buffers off exactly on such CPUs
and keeps the repack speed-up everywhere else. ``Llama()`` takes no argument for this, so the
one model-loading function here sets ``llama_model_params.use_extra_bufts`` itself.
"""

from __future__ import annotations

import ctypes
import platform
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentlab.config import ExtraBuffers

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = [
    "CPU_FEATURES",
    "LoadedLlama",
    "build_info",
    "cpu_flags",
    "extra_buffers_enabled",
    "has_amx",
    "load_llama",
    "machine",
]

# CPU features that decide which llama.cpp kernels run (names as in /proc/cpuinfo).
CPU_FEATURES = (
    "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512_vnni",
    "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16",
)  # fmt: skip
_BUFFER_LINE = re.compile(r"(\S+) model buffer size\s*=\s*([0-9.]+) MiB")


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as the kernel reports them (empty where /proc is missing)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def has_amx(flags: frozenset[str] | None = None) -> bool:
    return bool({"amx_int8", "amx_tile"} & (cpu_flags() if flags is None else flags))


def extra_buffers_enabled(choice: ExtraBuffers, flags: frozenset[str] | None = None) -> bool:
    """Whether llama.cpp may use extra CPU buffer types: ``auto`` is off on AMX CPUs only."""
    if choice == "auto":
        return not has_amx(flags)
    return choice == "on"


@cache
def build_info() -> dict[str, dict[str, str]]:
    """The llama.cpp build's backends and their compiled-in features, from its system info
    (``"CPU : SSE3 = 1 | AVX2 = 1 | AMX_INT8 = 1 | REPACK = 1 | "``)."""
    import llama_cpp

    text = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace")
    backends: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for part in (p.strip() for p in text.split("|")):
        name, sep, value = part.partition("=")
        if ":" in name:  # "CPU : SSE3 = 1" starts a backend's list
            backend, _, name = name.partition(":")
            current = backends.setdefault(backend.strip(), {})
        if sep and current is not None:
            current[name.strip()] = value.strip()
    if llama_cpp.llama_supports_gpu_offload():
        backends.setdefault("GPU offload", {})
    return backends


@dataclass
class LoadedLlama:
    """A llama-cpp-python model and the weight buffers llama.cpp put it in (MiB by type)."""

    llama: Llama
    buffers: dict[str, float]


def load_llama(path: Path, *, extra_buffers: bool, **params: Any) -> LoadedLlama:
    """``llama_cpp.Llama(model_path=path, **params)`` with extra CPU buffers on or off.

    The load log is read for the buffer types the weights went to (``CPU``, ``CPU_REPACK``,
    ``AMX``, ``CUDA0``...), so callers and ``agentlab doctor`` can show what happened.
    """
    from llama_cpp import Llama

    class _Llama(Llama):
        # Llama.__init__ assigns self.model_params before loading the weights; this setter
        # adds the one field its constructor does not expose.
        @property
        def model_params(self) -> Any:
            return self._agentlab_model_params

        @model_params.setter
        def model_params(self, value: Any) -> None:
            value.use_extra_bufts = extra_buffers
            self._agentlab_model_params = value

    with _llama_log() as lines:
        llama = _Llama(model_path=str(path), verbose=False, **params)
    buffers: dict[str, float] = {}
    for match in _BUFFER_LINE.finditer("".join(lines)):
        buffers[match.group(1)] = buffers.get(match.group(1), 0.0) + float(match.group(2))
    return LoadedLlama(llama, buffers)


@contextmanager
def _llama_log() -> Iterator[list[str]]:
    """Collect llama.cpp's log lines (not printed) while the block runs."""
    import llama_cpp

    previous = llama_cpp.llama_log_callback()
    previous_data = ctypes.c_void_p()
    llama_cpp.llama_log_get(ctypes.byref(previous), ctypes.byref(previous_data))
    lines: list[str] = []

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def collect(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        lines.append(text.decode("utf-8", errors="replace"))

    llama_cpp.llama_log_set(collect, ctypes.c_void_p(0))
    try:
        yield lines
    finally:
        llama_cpp.llama_log_set(previous, previous_data)


def machine() -> str:
    """The CPU's model name, for reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
