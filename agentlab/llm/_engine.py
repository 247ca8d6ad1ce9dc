"""The in-process engine: a llama.cpp model loaded with llama-cpp-python.

It turns each turn's JSON schema into a GBNF grammar, decodes under it with its own sampler, and
keeps the prompt prefix in llama.cpp's KV cache (also across side calls, and across processes
through the disk prefix store). Only public llama-cpp-python attributes and the C API are used.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agentlab.config import Settings
from agentlab.errors import ContextOverflowError, ModelFileError
from agentlab.llm._grammar import gbnf
from agentlab.llm._lookup import draft_tokens
from agentlab.llm._prefix_store import PrefixStore
from agentlab.llm._preload import load_model
from agentlab.llm._sampling import GrammarSampler
from agentlab.llm.engine import Completion

if TYPE_CHECKING:
    from llama_cpp import Llama

__all__ = ["GiveUp", "LlamaEngine"]

GiveUp = Callable[[str, Sequence[tuple[int, float]]], bool]
"""Asked after each step of a turn with its text and measured choices: stop the turn now?"""


class LlamaEngine:
    """One llama.cpp context (an :class:`~agentlab.llm.Engine`). Calls are serialized: a
    context holds a single KV cache."""

    def __init__(
        self,
        llama: Llama,
        path: Path,
        seed: int = 0,
        buffers: dict[str, float] | None = None,
        prefix_store: PrefixStore | None = None,
        lookup_tokens: int = 0,
    ) -> None:
        self.llama = llama
        self.path = path
        self.seed = seed
        self.buffers = buffers or {}  # MiB of weights per llama.cpp buffer type
        self._lock = threading.Lock()
        self._prefix_store = prefix_store  # read before the first call, written after it
        self.lookup_tokens = lookup_tokens  # prompt-lookup guesses checked per decode step
        self.measure_choices = False  # report each choice's margin in Completion.choices

    @classmethod
    def load(cls, path: Path, settings: Settings) -> LlamaEngine:
        try:
            loaded = load_model(path, settings)
        except (ValueError, RuntimeError, OSError) as exc:
            if "llama_context" in str(exc):  # the weights loaded; the context did not
                raise ModelFileError(
                    f"llama.cpp could not create a context with n_ctx={settings.n_ctx}, "
                    f"kv_type_k={settings.kv_type_k}, kv_type_v={settings.kv_type_v}, "
                    f"flash_attn={settings.use_flash_attn}: this build may lack flash attention "
                    "(a quantized V cache needs it; use kv_type_v=f16) or the memory for n_ctx"
                ) from None
            raise ModelFileError(
                f"llama.cpp could not load {path} ({exc}); the file may be truncated, corrupt "
                "or not a GGUF model: re-download it (`agentlab models pull`)"
            ) from None
        store = None
        if settings.kv_disk_cache:
            store = PrefixStore(settings.home / "kv", _cache_key(path, settings))
        return cls(loaded.llama, path, settings.seed, loaded.buffers, store, settings.lookup_tokens)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def n_ctx(self) -> int:
        return int(self.llama.n_ctx())

    @contextmanager
    def keeping_cache(self) -> Iterator[None]:
        """Run a side call (such as a summary) without losing the main conversation's cache.

        The KV cells of the cached prefix are copied out and put back afterwards: a copy of a
        few MB instead of prefilling the whole prompt again.
        """
        with self._lock:
            saved = self._seq_state()
            tokens = self._cached_tokens()
        try:
            yield
        finally:
            with self._lock:
                self._put_seq_state(saved, tokens)

    def kv_state_bytes(self) -> int:
        """Bytes of the context's state: the KV cells in use, in their cache type."""
        import llama_cpp

        return int(llama_cpp.llama_state_get_size(self.llama.ctx))

    def tokenize(self, text: str) -> list[int]:
        return list(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def complete(
        self,
        prompt: str,
        *,
        schema: str,
        max_tokens: int,
        temperature: float,
        on_text: Callable[[str], Any] | None = None,
        give_up: GiveUp | None = None,
        start: str = "",
    ) -> Completion:
        """Generate one turn under ``schema``'s grammar; the llama.cpp prefix cache reuses
        whatever the last call shared. ``give_up`` sees the text and its measured choices as
        they grow; when it says so, the turn stops there with ``finish_reason`` "abandoned".
        ``start`` is text the turn already begins with (valid under the grammar): it is
        prefilled with the prompt, not decoded, and the turn's text includes it."""
        tokens = self.tokenize(prompt)
        begun = self.tokenize(start) if start else []
        if len(tokens) + len(begun) + max_tokens > self.n_ctx:
            raise ContextOverflowError(
                f"the prompt has {len(tokens) + len(begun)} tokens and the answer may need "
                f"{max_tokens}, but the context window holds {self.n_ctx}; raise n_ctx or "
                "shorten the input"
            )
        with self._lock:
            store, self._prefix_store = self._prefix_store, None  # the first call only
            if store is not None and self.llama.n_tokens == 0:
                self._restore(store, tokens)
            reused = self._cached_prefix(tokens)
            done = self._generate(
                tokens, begun, reused, gbnf(schema), max_tokens, temperature, on_text, give_up
            )
            if store is not None and reused < len(tokens) // 2:  # the file missed: refresh it
                store.save(self._cached_tokens(), self._seq_state())
            return done

    def _cached_tokens(self) -> list[int]:
        """The tokens whose KV cells the context holds."""
        return [int(t) for t in self.llama.input_ids[: self.llama.n_tokens]]

    def _seq_state(self) -> bytes:
        import llama_cpp

        ctx = self.llama.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
        return bytes(buffer)[:written]

    def _put_seq_state(self, state: bytes, tokens: list[int]) -> None:
        """Replace sequence 0's KV cells by ``state`` (the cells of ``tokens``); if llama.cpp
        refuses it, the cache is left empty and the next call prefills from scratch."""
        import llama_cpp

        ctx = self.llama.ctx
        llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(ctx), 0, -1, -1)
        data = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        restored = llama_cpp.llama_state_seq_set_data(ctx, data, len(state), 0) != 0
        self.llama.input_ids[: len(tokens)] = tokens
        self.llama.n_tokens = len(tokens) if restored else 0

    def _restore(self, store: PrefixStore, tokens: list[int]) -> None:
        """Put a saved prefix's KV cells back when it shares a start with this prompt."""
        saved = store.load()
        if saved is None or not saved.tokens or saved.tokens[0] != tokens[0]:
            return
        if len(saved.tokens) <= self.n_ctx:
            self._put_seq_state(saved.state, saved.tokens)

    def _cached_prefix(self, tokens: list[int]) -> int:
        """How many prompt tokens to keep from the KV cache: the prefix shared with the last call,
        less one when the whole prompt is cached (a token must be evaluated to get logits)."""
        cached = self.llama.input_ids[: self.llama.n_tokens]
        shared = 0
        for old, new in zip(cached, tokens, strict=False):
            if old != new:
                break
            shared += 1
        return shared - 1 if shared == len(tokens) else shared

    def _generate(
        self,
        tokens: list[int],
        begun: list[int],
        reused: int,
        gbnf: str,
        max_tokens: int,
        temperature: float,
        on_text: Callable[[str], Any] | None,
        give_up: GiveUp | None,
    ) -> Completion:
        import llama_cpp

        llama = self.llama
        vocab = llama_cpp.llama_model_get_vocab(llama.model)
        sampler = GrammarSampler(vocab, llama.n_vocab(), gbnf, temperature, self.seed)
        limit = len(begun) + max_tokens  # the given start does not count against max_tokens
        history = np.zeros(len(tokens) + limit, dtype=np.int32)
        history[: len(tokens)] = tokens
        generated: list[int] = []
        choices: list[tuple[int, float]] = []
        margin: float | None = None
        text = ""
        finish = "length"

        def pick(row: np.ndarray) -> int:
            nonlocal margin
            margin = sampler.margin(row) if self.measure_choices else None
            return sampler.pick(row)

        def take(token: int) -> None:
            nonlocal text
            if margin is not None:
                choices.append((len(text), margin))
            sampler.accept(token)
            history[len(tokens) + len(generated)] = token
            generated.append(token)
            decoded = llama.detokenize(generated).decode("utf-8", errors="ignore")
            if on_text is not None and len(decoded) > len(text):
                on_text(decoded[len(text) :])
            text = decoded

        started = time.perf_counter()
        try:
            for token in begun:  # already written: the grammar and the text take it as given
                if not sampler.allows(token):  # llama.cpp would abort on accepting it
                    raise ValueError(
                        f"the turn's given start does not fit its schema after {text!r}: "
                        "start a turn only with text that schema allows"
                    )
                take(token)
            llama.n_tokens = reused  # keep the cached prefix; eval() drops the rest of the KV
            llama.eval(tokens[reused:] + begun)  # the start is prefilled with the prompt
            first_token_at = time.perf_counter()
            rows = [self._logits(-1)]
            forced: int | None = None  # a token the last check already picked
            while len(generated) < limit:
                token = pick(rows[0]) if forced is None else forced
                forced = None
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    finish = "stop"
                    break
                take(token)
                room = limit - len(generated)
                guess = self._guess(history[: len(tokens) + len(generated)], room, vocab)
                start = llama.n_tokens
                rows = self._decode([token, *guess])
                kept = 1
                for guessed in guess:
                    picked = pick(rows[kept - 1])
                    if picked != guessed:
                        forced = picked
                        break
                    take(picked)
                    kept += 1
                rows = rows[kept - 1 :]
                llama.n_tokens = start + kept  # a wrong guess's cells go with the next decode
                if give_up is not None and give_up(text, choices):
                    finish = "abandoned"
                    break
        finally:
            sampler.close()
            self._drop_cells_after(llama.n_tokens)
        finished = time.perf_counter()
        return Completion(
            text=text,
            prompt_tokens=len(tokens) + len(begun),
            reused_tokens=reused,
            completion_tokens=len(generated) - len(begun),
            prefill_ms=(first_token_at - started) * 1000,
            decode_ms=(finished - first_token_at) * 1000,
            finish_reason=finish,
            choices=tuple(choices),
        )

    def _guess(self, history: np.ndarray, room: int, vocab: Any) -> list[int]:
        """Prompt-lookup guesses of the next tokens, cut before an end-of-generation token."""
        import llama_cpp

        guess = draft_tokens(history, min(self.lookup_tokens, room))
        for i, token in enumerate(guess):
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                return guess[:i]
        return guess

    def _logits(self, index: int) -> np.ndarray:
        import llama_cpp

        row = llama_cpp.llama_get_logits_ith(self.llama.ctx, index)
        return np.ctypeslib.as_array(row, shape=(self.llama.n_vocab(),))

    def _decode(self, batch: list[int]) -> list[np.ndarray]:
        """Evaluate ``batch`` after the cached tokens; the logits after each of its tokens."""
        import llama_cpp

        llama = self.llama
        if len(batch) == 1:
            llama.eval(batch)
            return [self._logits(-1)]
        start = llama.n_tokens
        self._drop_cells_after(start)
        native = llama_cpp.llama_batch_init(len(batch), 0, 1)
        try:
            native.n_tokens = len(batch)
            for i, token in enumerate(batch):
                native.token[i], native.pos[i] = token, start + i
                native.n_seq_id[i], native.seq_id[i][0], native.logits[i] = 1, 0, True
            if llama_cpp.llama_decode(llama.ctx, native) != 0:
                raise RuntimeError("llama_decode failed on a batch of guessed tokens")
        finally:
            llama_cpp.llama_batch_free(native)
        llama.input_ids[start : start + len(batch)] = batch
        llama.n_tokens = start + len(batch)
        return [self._logits(i) for i in range(len(batch))]

    def _drop_cells_after(self, position: int) -> None:
        import llama_cpp

        memory = llama_cpp.llama_get_memory(self.llama.ctx)
        llama_cpp.llama_memory_seq_rm(memory, 0, position, -1)


def _cache_key(path: Path, settings: Settings) -> dict[str, object]:
    """Everything that shapes the KV cells of a prompt."""
    import llama_cpp

    stat = path.stat()
    return {
        "model": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
        "n_ctx": settings.n_ctx, "type_k": settings.kv_type_k, "type_v": settings.kv_type_v,
        "flash_attn": settings.use_flash_attn, "gpu_layers": settings.n_gpu_layers,
        "llama_cpp": llama_cpp.__version__,
    }  # fmt: skip
