"""Prompt-lookup decoding: the guesses, and the real model's output with and without them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import MODEL_DIR

from agentlab.config import Settings
from agentlab.llm import LlamaEngine
from agentlab.llm._lookup import draft_tokens


def test_the_guess_is_what_followed_the_latest_earlier_occurrence() -> None:
    history = np.array([5, 6, 7, 1, 2, 9, 6, 7, 3, 4, 8, 6, 7])
    # "6 7" occurred twice before; the later one was followed by 3 4 8.
    assert draft_tokens(history, 3) == [3, 4, 8]
    assert draft_tokens(history, 1) == [3]


def test_a_longer_match_wins_over_a_later_shorter_one() -> None:
    history = np.array([1, 2, 3, 40, 41, 9, 2, 3, 50, 1, 2, 3])
    assert draft_tokens(history, 2) == [40, 41]  # "1 2 3", not the later "2 3"


def test_no_guess_without_an_earlier_occurrence_or_room() -> None:
    assert draft_tokens(np.array([1, 2, 3, 4]), 4) == []
    assert draft_tokens(np.array([1, 2, 1, 2]), 0) == []
    assert draft_tokens(np.array([7]), 4) == []


SCHEMA = (
    '{"type": "object", "properties": {"tool": {"type": "string", "enum": ["calculator"]}, '
    '"args": {"type": "object", "properties": {"expression": {"type": "string"}}, '
    '"required": ["expression"]}}, "required": ["tool", "args"]}'
)
PROMPT = (
    "<|im_start|>user\nUse the calculator on (250 - 47) * 3 + 17 ** 2 and on "
    "(250 - 47) * 3 + 17 ** 2 again; reply as JSON.<|im_end|>\n<|im_start|>assistant\n"
)


@pytest.mark.llm
def test_guessing_changes_the_cost_not_the_answer(model_path: Path) -> None:
    settings = Settings(model=str(model_path), model_dir=MODEL_DIR, n_ctx=1024)
    engine = LlamaEngine.load(model_path, settings)
    engine.measure_choices = True
    turns = {}
    for guesses in (0, 6):
        engine.lookup_tokens = guesses
        engine.llama.n_tokens = 0  # no cache carried between the arms
        turns[guesses] = engine.complete(PROMPT, schema=SCHEMA, max_tokens=64, temperature=0.0)
    plain, guessed = turns[0], turns[6]
    assert '"expression": "(250 - 47) * 3 + 17 ** 2"' in plain.text
    assert guessed.text == plain.text
    assert guessed.completion_tokens == plain.completion_tokens
    assert [at for at, _ in guessed.choices] == [at for at, _ in plain.choices]
    # The state left behind is exactly the tokens evaluated: the next turn reuses all of them.
    assert engine.llama.n_tokens == plain.prompt_tokens + plain.completion_tokens
