"""Prompt-lookup drafts: guess the next tokens by finding the text's last few tokens earlier on.

A tool call copies words of the task, an answer copies values of an observation, and every turn
repeats the JSON keys of earlier turns. When the last n tokens (n = 3, then 2) occurred before,
the tokens that followed them then are a cheap guess of what follows now. The model checks a
whole guess in one batch, which on a CPU costs little more than one token; every guessed token
it agrees with is a decode step saved. The picks are the model's own, but a batch's logits can
differ from one token's in their last bits, so a near tie may go the other way.
"""

from __future__ import annotations

import numpy as np

__all__ = ["draft_tokens"]

_NGRAMS = (3, 2)  # longest first: a longer match is a better guess


def draft_tokens(history: np.ndarray, limit: int) -> list[int]:
    """Up to ``limit`` tokens that followed the latest earlier occurrence of ``history``'s last
    n tokens; empty when none occurred."""
    size = len(history)
    if limit <= 0:
        return []
    for n in _NGRAMS:
        if size <= n:
            continue
        tail = history[size - n :]
        # Starts i < size - n where history[i : i + n] == tail (the tail itself excluded).
        hits = np.ones(size - n, dtype=bool)
        for offset in range(n):
            hits &= history[offset : size - n + offset] == tail[offset]
        starts = np.flatnonzero(hits)
        if starts.size:
            follow = int(starts[-1]) + n
            return [int(t) for t in history[follow : follow + limit]]
    return []
