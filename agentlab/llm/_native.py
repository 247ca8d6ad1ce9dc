"""This CPU and the llama.cpp build: what they offer, and loading a model safely on them.

llama.cpp can put weights in "extra" CPU buffer types that repack them for faster kernels:
``CPU_REPACK`` (AVX2/AVX512 layouts for Q4 types) and, on CPUs with AMX, an ``AMX`` buffer.
With llama-cpp-python 0.3.36 built natively on an AMX CPU, every multi-token decode over AMX
buffers segfaults, so ``cpu_extra_buffers=auto`` turns extra buffers off exactly on such CPUs
and keeps the repack speed-up everywhere else. ``Llama()`` takes no argument for this, so the
weights are read here with ``llama_model_params.use_extra_bufts`` set, and handed to it.
"""

from __future__ import annotations

import ctypes
import platform
import re
import threading
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
    "Weights",
    "build_info",
    "cpu_flags",
    "extra_buffers_enabled",
    "has_amx",
    "load_llama",
    "machine",
    "read_weights",
]

# CPU features that decide which llama.cpp kernels run (names as in /proc/cpuinfo).
CPU_FEATURES = (
    "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512_vnni",
    "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16",
)  # fmt: skip
_BUFFER_LINE = re.compile(r"(\S+) model buffer size\s*=\s*([0-9.]+) MiB")
_HANDING_OVER = threading.Lock()


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
class Weights:
    """A model's weights as llama.cpp loaded them (a ``llama_model *``), not yet in a ``Llama``."""

    path: Path
    pointer: int
    buffers: dict[str, float]  # MiB by buffer type (CPU, CPU_REPACK, AMX, CUDA0...)

    def free(self) -> None:
        import llama_cpp

        llama_cpp.llama_model_free(self.pointer)


@dataclass
class LoadedLlama:
    """A llama-cpp-python model and the weight buffers llama.cpp put it in (MiB by type)."""

    llama: Llama
    buffers: dict[str, float]


def read_weights(path: Path, *, extra_buffers: bool, n_gpu_layers: int = 0) -> Weights:
    """Load a model's weights with extra CPU buffers on or off.

    Unlike ``Llama()``, which points stdout and stderr at /dev/null while it loads, this
    touches neither, so it can run in a thread while the program prints. The load log is read
    for the buffer types the weights went to, so callers and ``agentlab doctor`` can show
    what happened.
    """
    import llama_cpp

    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_default_params()
    params.n_gpu_layers = 0x7FFFFFFF if n_gpu_layers == -1 else n_gpu_layers  # -1: all
    params.use_extra_bufts = extra_buffers  # the one field Llama() does not expose
    with _llama_log() as lines:
        pointer = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if pointer is None:
        raise ValueError(f"Failed to load model from file: {path}")
    buffers: dict[str, float] = {}
    for match in _BUFFER_LINE.finditer("".join(lines)):
        buffers[match.group(1)] = buffers.get(match.group(1), 0.0) + float(match.group(2))
    return Weights(path, pointer, buffers)


def load_llama(
    path: Path, *, extra_buffers: bool, weights: Weights | None = None, **params: Any
) -> LoadedLlama:
    """``llama_cpp.Llama(model_path=path, **params)`` on ``weights`` (read now if not given).

    ``Llama()`` always loads the file itself; its one call of llama.cpp's loader is answered
    with the weights already read, which is how extra buffers get set and how weights read in
    another thread get used.
    """
    from llama_cpp import Llama
    from llama_cpp import llama_cpp as bindings

    if weights is None:
        n_gpu_layers = params.get("n_gpu_layers", 0)
        weights = read_weights(path, extra_buffers=extra_buffers, n_gpu_layers=n_gpu_layers)
    owner = threading.get_ident()
    handed: list[int] = []

    def hand_over(path_model: bytes, model_params: Any) -> int:
        if threading.get_ident() != owner or handed:  # another thread's Llama(): its own file
            return loader(path_model, model_params)  # type: ignore[no-any-return]
        handed.append(weights.pointer)
        return weights.pointer

    with _HANDING_OVER:  # one Llama() at a time sees the loader replaced
        loader = bindings.llama_model_load_from_file
        bindings.llama_model_load_from_file = hand_over
        try:
            with _llama_log():
                llama = Llama(model_path=str(path), verbose=False, **params)
        except BaseException:
            if not handed:  # else the half-built Llama frees them
                weights.free()
            raise
        finally:
            bindings.llama_model_load_from_file = loader
    return LoadedLlama(llama, weights.buffers)


# Log lines of the loads now running, by thread. llama.cpp has one log callback per process,
# so one callback (kept alive here) serves every thread that loads at the same time.
_log_lines: dict[int, list[str]] = {}
_log_lock = threading.Lock()
_log_state: dict[str, Any] = {}


@contextmanager
def _llama_log() -> Iterator[list[str]]:
    """Collect llama.cpp's log lines of this thread (none is printed) while the block runs."""
    import llama_cpp

    with _log_lock:
        if not _log_lines:
            _install_collector(llama_cpp)
        lines = _log_lines.setdefault(threading.get_ident(), [])
    try:
        yield lines
    finally:
        with _log_lock:
            del _log_lines[threading.get_ident()]
            if not _log_lines:
                llama_cpp.llama_log_set(_log_state["previous"], _log_state["previous_data"])


def _install_collector(llama_cpp: Any) -> None:
    previous = llama_cpp.llama_log_callback()
    previous_data = ctypes.c_void_p()
    llama_cpp.llama_log_get(ctypes.byref(previous), ctypes.byref(previous_data))
    if "collect" not in _log_state:

        @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
        def collect(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            lines = _log_lines.get(threading.get_ident())
            if lines is not None:
                lines.append(text.decode("utf-8", errors="replace"))

        _log_state["collect"] = collect
    _log_state.update(previous=previous, previous_data=previous_data)
    llama_cpp.llama_log_set(_log_state["collect"], ctypes.c_void_p(0))


def machine() -> str:
    """The CPU's model name, for reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
