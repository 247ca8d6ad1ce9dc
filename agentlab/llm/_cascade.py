"""``--model auto``: the fast model takes each action turn it is sure of, the default model the
rest.

The small model writes the turn first, measuring how sure it was of each choice the grammar
left it. When its branch (answer or tool, and which tool) was chosen by at least ``margin``
logits, and the turn ended on its own, its turn stands; otherwise the large model takes over
after the small model's thought: it reads that thought (a prefill, not a decode) and writes
the branch and the rest itself. The small model stops as soon as it has written a branch it
was not sure of, so an escalated turn costs it only its thought and the branch. Turns that are
not action turns (plans, verdicts, summaries) go to the large model at once. Both models use
Qwen2.5's tokenizer, so prompts and token counts are the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from agentlab.llm._engine import LlamaEngine
from agentlab.llm.engine import Completion
from agentlab.llm.protocol import branch_margin, thought_of

__all__ = ["CascadeEngine"]


class CascadeEngine:
    """An :class:`~agentlab.llm.Engine` over a small and a large in-process model."""

    def __init__(self, small: LlamaEngine, large: LlamaEngine, margin: float) -> None:
        self.small, self.large, self.margin = small, large, margin
        small.measure_choices = True

    @property
    def name(self) -> str:
        return f"auto({self.small.name}|{self.large.name})"

    @property
    def n_ctx(self) -> int:
        return min(self.small.n_ctx, self.large.n_ctx)

    def tokenize(self, text: str) -> list[int]:
        return self.large.tokenize(text)

    @contextmanager
    def keeping_cache(self) -> Iterator[None]:
        with self.small.keeping_cache(), self.large.keeping_cache():
            yield

    def complete(
        self,
        prompt: str,
        *,
        schema: str,
        max_tokens: int,
        temperature: float,
        on_text: Callable[[str], Any] | None = None,
    ) -> Completion:
        def by_large(start: str = "") -> Completion:
            done = self.large.complete(
                prompt, schema=schema, max_tokens=max_tokens, temperature=temperature,
                on_text=on_text, start=start,
            )  # fmt: skip
            return dataclasses.replace(done, model=self.large.name)

        if '"thought"' not in schema:  # not an action turn: no branch to be sure of
            return by_large()
        first = self.small.complete(
            prompt, schema=schema, max_tokens=max_tokens, temperature=temperature,
            give_up=self._unsure,
        )  # fmt: skip
        sure = branch_margin(first.text, first.choices)
        if first.finish_reason == "stop" and sure is not None and sure >= self.margin:
            if on_text is not None:
                on_text(first.text)
            return dataclasses.replace(first, model=self.small.name)
        return _with_cost_of(by_large(start=thought_of(first.text)), first)

    def _unsure(self, text: str, choices: Sequence[tuple[int, float]]) -> bool:
        """Stop the small model as soon as its branch is written and it was not sure of it."""
        sure = branch_margin(text, choices)
        return sure is not None and sure < self.margin


def _with_cost_of(kept: Completion, dropped: Completion) -> Completion:
    """``kept``, with the tokens and time of the turn written before it added to its cost."""
    return dataclasses.replace(
        kept,
        prompt_tokens=kept.prompt_tokens + dropped.prompt_tokens,
        reused_tokens=kept.reused_tokens + dropped.reused_tokens,
        completion_tokens=kept.completion_tokens + dropped.completion_tokens,
        prefill_ms=kept.prefill_ms + dropped.prefill_ms,
        decode_ms=kept.decode_ms + dropped.decode_ms,
    )
