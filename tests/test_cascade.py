"""``--model auto``: which model keeps a turn, what it costs, and the error without both models."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from conftest import MODEL_DIR, agentlab, assert_usage_error

from agentlab.config import DEFAULT_MODEL, FAST_MODEL, Settings
from agentlab.llm import LlamaEngine
from agentlab.llm._cascade import CascadeEngine
from agentlab.llm.engine import Completion
from agentlab.llm.protocol import branch_margin
from agentlab.testing import ScriptedEngine

ACTION = json.dumps({"properties": {"thought": {"type": "string"}}})  # an action turn's schema
TOOL_TURN = '{"thought": "look it up", "tool": "lookup", "args": {"q": "x"}}'


class MeasuringEngine(ScriptedEngine):
    """A scripted small model that reports ``margin`` for each token after its thought."""

    def __init__(self, texts: list[str], margin: float) -> None:
        super().__init__(texts)
        self.margin = margin
        self.measure_choices = False

    def complete(self, prompt: str, **kwargs: object) -> Completion:  # type: ignore[override]
        give_up = kwargs.pop("give_up")
        done = super().complete(prompt, **kwargs)  # type: ignore[arg-type]
        start = done.text.find('", "') + 1
        choices = [(at, self.margin) for at in range(start, len(done.text))]
        for end in range(start, len(done.text)):  # as the text grows, as a real engine asks
            if give_up(done.text[:end], [c for c in choices if c[0] < end]):  # type: ignore[operator]
                self.gave_up_at = end
                return dataclasses.replace(done, text=done.text[:end], finish_reason="abandoned")
        return dataclasses.replace(done, choices=tuple(choices))


class ContinuingEngine(ScriptedEngine):
    """A scripted large model that continues from the ``start`` it is given, as the real engine
    does: its scripted texts are what it writes after that."""

    def __init__(self, texts: list[str]) -> None:
        super().__init__(texts)
        self.starts: list[str] = []

    def complete(self, prompt: str, **kwargs: object) -> Completion:  # type: ignore[override]
        start = str(kwargs.pop("start", ""))
        on_text = kwargs.pop("on_text", None)
        self.starts.append(start)
        done = super().complete(prompt, **kwargs)  # type: ignore[arg-type]
        if on_text is not None:
            on_text(start + done.text)  # type: ignore[operator]
        return dataclasses.replace(done, text=start + done.text)


def cascade(margin: float, small_texts: list[str], large_texts: list[str]) -> CascadeEngine:
    return CascadeEngine(MeasuringEngine(small_texts, margin), ContinuingEngine(large_texts), 2.0)  # type: ignore[arg-type]


def test_a_turn_the_fast_model_is_sure_of_stays_with_it() -> None:
    engine = cascade(3.0, [TOOL_TURN], [])
    streamed: list[str] = []
    done = engine.complete("task", schema=ACTION, max_tokens=64, temperature=0.0,
                           on_text=streamed.append)  # fmt: skip
    assert done.text == TOOL_TURN and "".join(streamed) == TOOL_TURN
    assert done.model == engine.small.name
    assert engine.small.measure_choices
    assert (len(engine.small.calls), len(engine.large.calls)) == (1, 0)  # type: ignore[attr-defined]


def test_an_unsure_turn_is_finished_by_the_default_model_after_the_thought_and_costs_both() -> None:
    engine = cascade(0.5, [TOOL_TURN], [', "answer": "42"}'])
    streamed: list[str] = []
    done = engine.complete("task", schema=ACTION, max_tokens=64, temperature=0.0,
                           on_text=streamed.append)  # fmt: skip
    answer = '{"thought": "look it up", "answer": "42"}'  # the small thought, the large branch
    assert done.text == answer and "".join(streamed) == answer  # the dropped branch never shows
    assert done.model == engine.large.name
    assert engine.large.starts == ['{"thought": "look it up"']  # type: ignore[attr-defined]
    small_call, large_call = engine.small.calls[0], engine.large.calls[0]  # type: ignore[attr-defined]
    assert small_call.prompt == large_call.prompt == "task"
    assert TOOL_TURN[: engine.small.gave_up_at].endswith('"tool": "lookup"')  # type: ignore[attr-defined]
    assert done.completion_tokens > len(engine.large.tokenize(', "answer": "42"}'))
    assert (len(engine.small.calls), len(engine.large.calls)) == (1, 1)  # type: ignore[attr-defined]


def test_turns_without_a_branch_go_to_the_default_model_alone() -> None:
    engine = cascade(9.0, [], ['{"verdict": "pass"}'])
    done = engine.complete("check", schema='{"properties": {"verdict": {}}}', max_tokens=16,
                           temperature=0.0)  # fmt: skip
    assert done.text == '{"verdict": "pass"}' and engine.large.starts == [""]  # type: ignore[attr-defined]
    assert engine.small.calls == [] and len(engine.large.calls) == 1  # type: ignore[attr-defined]


def test_auto_without_both_models_says_which_to_pull(tmp_path: Path) -> None:
    only_fast = tmp_path / "models"
    only_fast.mkdir()
    fast_file = next(MODEL_DIR.glob("qwen2.5-coder-0.5b*.gguf"), None)
    if fast_file is None:  # the registry-free fast suite may run before any model is pulled
        (only_fast / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf").write_bytes(b"")
    else:
        (only_fast / fast_file.name).symlink_to(fast_file)
    done = agentlab("run", "react", "What is 2 + 2?", "--model", "auto",
                    env={"AGENTLAB_MODEL_DIR": str(only_fast)})  # fmt: skip
    assert_usage_error(done, f"--model auto needs both {FAST_MODEL} and {DEFAULT_MODEL}")
    assert f"{DEFAULT_MODEL} is not downloaded" in " ".join(done.stderr.split())
    assert "agentlab models pull --all" in done.stderr


@pytest.mark.llm
def test_auto_runs_a_task_on_both_real_models() -> None:
    done = agentlab("run", "react", "What is (250 - 47) * 3?", "--model", "auto", "--json",
                    "--tools", "agentlab.tools.demo:TOOLS", "--no-memory")  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "done" and "609" in result["answer"]
    assert result["tool_calls"][0]["name"] == "calculator"


def test_a_server_cannot_be_started_with_auto() -> None:
    done = agentlab("serve-model", "--model", "auto")
    assert_usage_error(done, "a server runs one model: --model auto routes between two")


# A real turn for the engine tests: a tool call whose branch the model chooses.
PROMPT = (
    "<|im_start|>user\nCall the lookup tool for Oslo, as JSON with thought, tool and args."
    "<|im_end|>\n<|im_start|>assistant\n"
)
SCHEMA = json.dumps({
    "type": "object", "required": ["thought", "tool", "args"],
    "properties": {"thought": {"type": "string", "maxLength": 60},
                   "tool": {"enum": ["lookup", "calculator"]},
                   "args": {"type": "object", "properties": {"q": {"type": "string"}},
                            "required": ["q"]}},
})  # fmt: skip


def real_engine(model_path: Path) -> LlamaEngine:
    return LlamaEngine.load(model_path, Settings(model=str(model_path), n_ctx=1024))


@pytest.mark.llm
def test_the_real_engine_stops_a_turn_where_give_up_says(model_path: Path) -> None:
    engine = real_engine(model_path)
    engine.measure_choices = True
    whole = engine.complete(PROMPT, schema=SCHEMA, max_tokens=80, temperature=0.0)
    seen: list[str] = []

    def after_the_tool(text: str, choices: list[tuple[int, float]]) -> bool:
        seen.append(text)
        return branch_margin(text, choices) is not None  # the branch is written

    cut = engine.complete(PROMPT, schema=SCHEMA, max_tokens=80, temperature=0.0,
                          give_up=after_the_tool)  # fmt: skip
    assert cut.finish_reason == "abandoned" and whole.finish_reason == "stop"
    assert cut.text.rstrip('"').endswith("lookup") or '"args"' in cut.text[-12:]
    assert whole.text.startswith(cut.text) and len(cut.text) < len(whole.text)
    assert cut.choices and all(at < len(cut.text) for at, _ in cut.choices)
    assert engine.llama.n_tokens == cut.prompt_tokens + cut.completion_tokens
    again = engine.complete(PROMPT, schema=SCHEMA, max_tokens=80, temperature=0.0)
    assert again.text == whole.text  # an abandoned turn leaves the cache consistent


@pytest.mark.llm
def test_the_real_engine_continues_a_turn_from_given_text(model_path: Path) -> None:
    engine = real_engine(model_path)
    start = '{"thought": "The task names Bergen, so I look up Bergen."'
    done = engine.complete(PROMPT, schema=SCHEMA, max_tokens=60, temperature=0.0, start=start)
    assert done.text.startswith(start) and done.finish_reason == "stop"
    turn = json.loads(done.text)
    assert turn["tool"] == "lookup" and "Bergen" in turn["args"]["q"]  # it read the given text
    assert 0 < done.completion_tokens < len(engine.tokenize(done.text)) - 10
    assert engine.llama.n_tokens == done.prompt_tokens + done.completion_tokens
    with pytest.raises(ValueError, match="does not fit its schema"):  # not a crash in llama.cpp
        engine.complete(PROMPT, schema=SCHEMA, max_tokens=60, temperature=0.0,
                        start='{"answer": "no"')  # fmt: skip
    again = engine.complete(PROMPT, schema=SCHEMA, max_tokens=60, temperature=0.0, start=start)
    assert again.text == done.text
