"""Reflexion: an actor tries the task, an evaluator judges the answer, and after a failed trial
the model writes a short reflection on what went wrong, which the next trial reads as a lesson.
Reads top to bottom: the structured outputs and checkers, state, the nodes, the routes, the graph.

Each trial is a ReAct sub-agent (:func:`~agentlab.graphs.react.build_react_agent`) run inside
the ``actor`` node under the parent's checkpointer, so approvals inside a trial interrupt the
whole graph and resume with ``Command(resume=...)``. The evaluator is a deterministic
``checker`` when one is given (e.g. :func:`expect_all`), else the model judges the answer
itself (structured output :class:`Evaluation`). A pass appends the answer to ``messages``;
``max_trials`` failures, or an evaluator that fails, end the run with ``error`` set.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel, Field

from agentlab.errors import UsageError
from agentlab.graphs._memory_hook import remembering
from agentlab.graphs._records import (
    RunRecord,
    latest_task,
    run_answered,
    split_at_task,
    tool_call_records,
)
from agentlab.graphs._spec import AgentSpec
from agentlab.graphs._steps import Invoke, Steps, steps_node
from agentlab.graphs.react import build_react_agent
from agentlab.llm import side_model

__all__ = [
    "Checker",
    "Evaluation",
    "Reflection",
    "ReflexionState",
    "Verdict",
    "build_reflexion_agent",
    "expect_all",
    "report",
]

_REFLECTION_CHARS = 300  # a lesson is a sentence or two; longer text crowds the next prompt


class Evaluation(BaseModel):
    """The judgement of an answer."""

    correct: bool = Field(
        description="true only if the answer fully and correctly answers the task"
    )
    reason: str = Field(description="one short sentence: why")


class Reflection(BaseModel):
    """A lesson for the next attempt at the task."""

    reflection: str = Field(
        description="one or two short sentences: what went wrong and what to do differently"
    )


@dataclass(frozen=True)
class Verdict:
    """A checker's judgement; ``feedback`` says what is wrong (the model reads it)."""

    passed: bool
    feedback: str = ""


Checker = Callable[[str, str], bool | Verdict]
"""Called as ``checker(task, answer)``: passed or not, or a :class:`Verdict` with feedback."""


def expect_all(*strings: str, reveal: bool = True) -> Checker:
    """A checker that passes when every one of ``strings`` appears in the answer, ignoring case.

    The feedback names the missing strings. The next trial's lesson is written from it, so with
    an answer key as ``strings`` the model may learn the answer from the feedback; pass
    ``reveal=False`` to say only how many are missing.
    """

    def check(task: str, answer: str) -> Verdict:
        text = answer.lower()
        missing = [s for s in strings if s.lower() not in text]
        if not missing:
            return Verdict(True)
        if not reveal:
            return Verdict(
                False, f"the answer lacks {len(missing)} of {len(strings)} expected facts"
            )
        return Verdict(False, "the answer lacks " + ", ".join(repr(s) for s in missing))

    return check


class ReflexionState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]  # the task; on a pass, the answer
    # one per trial: answer, passed (None until judged), feedback, reflection, error, tool_calls
    trials: list[dict[str, Any]]
    error: str | None  # set when the run ends without a passing answer
    recalled: str  # memories recalled for this run (see agentlab.graphs._memory_hook)


_EVALUATOR = """\
You judge an assistant's answer to a task. Trust the tool results over your own knowledge: the \
answer is correct only if it answers the whole task and agrees with the tool results."""

_REFLECTOR = """\
An assistant tried a task and its answer was judged wrong. Write a lesson for its next attempt: \
in one or two short sentences, what went wrong and what to do differently (which tool, which \
arguments, what to check). Do not answer the task yourself."""

_TRIAL = """\
Task: {task}

Tool calls and results:
{steps}

Answer: {answer}"""


def _ask(task: str, trials: Sequence[dict[str, Any]]) -> str:
    """The user message of the next trial: the task, the lessons so far, and the judge's own
    words on the last attempt (a small model's lesson may garble them)."""
    lessons = [t["reflection"] for t in trials if t.get("reflection")]
    if not lessons:
        return task
    text = task + "\n\nLessons from earlier attempts:\n" + "\n".join(f"- {r}" for r in lessons)
    feedback = trials[-1].get("feedback")
    return text + (f"\nFeedback on the last attempt: {feedback}" if feedback else "")


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rsplit(" ", 1)[0] + "..."


def _outcome(call: dict[str, Any]) -> str:
    if call["error"] is not None:
        return f"error: {call['error']}"
    return "(no result)" if call["result"] is None else str(call["result"])


def _describe(task: str, trial: dict[str, Any]) -> str:
    """A trial as the evaluator and the reflector read it."""
    steps = [
        _clip(f"{c['name']}({json.dumps(c['args'])}) -> " + _outcome(c), 200)
        for c in trial["tool_calls"]
    ]
    answer = trial["answer"] or f"(none: {trial['error']})"
    return _TRIAL.format(task=task, steps="\n".join(steps) or "(none)", answer=answer)


def report(values: Mapping[str, Any]) -> RunRecord:
    """Every trial's tool calls; how many trials ran, their reflections (the run's lessons)
    and which trial passed."""
    trials = values.get("trials", [])
    lessons = [t["reflection"] for t in trials if t.get("reflection")]
    passed = (number for number, t in enumerate(trials, 1) if t["passed"])
    extra = {"trials": len(trials), "reflections": lessons, "passed_on_trial": next(passed, None)}
    return RunRecord([c for t in trials for c in t["tool_calls"]], extra, lessons)


class _ReflexionNodes:
    """The graph's nodes, sharing the actor sub-agent, the judges and the limits."""

    def __init__(self, spec: AgentSpec, checker: Checker | None, max_trials: int) -> None:
        self.actor_agent = build_react_agent(spec.sub_agent())
        # A llama.cpp model keeps the trial's KV cache across these side calls, so the next
        # trial re-reads only its new lessons, not the tool-laden head of its prompt.
        side = side_model(spec.model)
        self.evaluator_model = side.with_structured_output(Evaluation)
        self.reflector_model = side.with_structured_output(Reflection)
        self.checker, self.max_trials = checker, max_trials

    def judge(self, task: str, trial: dict[str, Any]) -> Steps[Verdict]:
        if self.checker is not None:
            verdict = self.checker(task, trial["answer"])
            if not isinstance(verdict, Verdict):
                verdict = Verdict(bool(verdict))
            if verdict.passed or verdict.feedback:
                return verdict
            return Verdict(False, "the answer did not pass the check")
        prompt = [SystemMessage(_EVALUATOR), HumanMessage(_describe(task, trial))]
        evaluation = yield Invoke(self.evaluator_model, prompt)
        if not isinstance(evaluation, Evaluation):
            raise OutputParserException("the model gave no evaluation")
        return Verdict(evaluation.correct, evaluation.reason.strip() or "judged wrong")

    @staticmethod
    def begin(state: ReflexionState) -> dict[str, Any]:
        """A new task: the trials of an earlier task on this thread do not count."""
        return {"trials": [], "error": None}

    def actor(self, state: ReflexionState, config: RunnableConfig) -> Steps[dict[str, Any]]:
        history, task, _ = split_at_task(state["messages"])
        trials = state.get("trials", [])
        ask = HumanMessage(_ask(task, trials))
        run = {"messages": [*history, ask], "recalled": state.get("recalled", "")}
        done = yield Invoke(self.actor_agent, run, config)
        transcript = done["messages"][len(history) + 1 :]
        error = done.get("error")
        answered = run_answered(done["messages"], error)
        calls = tool_call_records(transcript)
        trial = {
            "answer": done["messages"][-1].text if answered else "",
            "passed": None,
            "feedback": "",
            "reflection": None,
            "error": None if answered else str(error or "the trial ended without an answer"),
            "tool_calls": calls,
        }
        return {"trials": [*trials, trial]}

    def evaluator(self, state: ReflexionState, config: RunnableConfig) -> Steps[dict[str, Any]]:
        task = latest_task(state["messages"])
        trials = [dict(t) for t in state["trials"]]
        trial, number = trials[-1], len(trials)
        if trial["error"]:
            verdict = Verdict(False, trial["error"])
        else:
            try:
                verdict = yield from self.judge(task, trial)
            except Exception as exc:  # reported as the run's error, never as a traceback
                who = "checker" if self.checker is not None else "evaluator"
                return {"error": f"the {who} failed on trial {number}: {type(exc).__name__}: {exc}"}
        trial.update(passed=verdict.passed, feedback=verdict.feedback)
        update: dict[str, Any] = {"trials": trials}
        if verdict.passed:
            return {**update, "messages": [AIMessage(trial["answer"])]}
        if number >= self.max_trials:
            trials_run = f"{number} trial" + ("s" if number > 1 else "")
            return {**update, "error": f"no trial passed in {trials_run}: {verdict.feedback}"}
        return update

    def reflect(self, state: ReflexionState, config: RunnableConfig) -> Steps[dict[str, Any]]:
        task = latest_task(state["messages"])
        trials = [dict(t) for t in state["trials"]]
        trial = trials[-1]
        why = f"{_describe(task, trial)}\n\nWhy it was judged wrong: {trial['feedback']}"
        try:
            prompt = [SystemMessage(_REFLECTOR), HumanMessage(why)]
            written = yield Invoke(self.reflector_model, prompt)
            text = written.reflection if isinstance(written, Reflection) else ""
        except (OutputParserException, ValueError):  # no usable reflection: keep the feedback
            text = ""
        trial["reflection"] = _clip(
            text or f"The answer was wrong: {trial['feedback']}", _REFLECTION_CHARS
        )
        return {"trials": trials}


def _after_evaluator(state: ReflexionState) -> str:
    if state.get("error") or state["trials"][-1]["passed"]:
        return END
    return "reflect"


def build_reflexion_agent(
    spec: AgentSpec, *, checker: Checker | None = None, max_trials: int = 3
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile a Reflexion graph: ``begin`` → (``actor`` → ``evaluator`` → ``reflect``)* → end.

    Each trial runs a ReAct sub-agent over the spec's tools (``spec.max_steps`` model turns per
    trial, the same approval, runner, budget and tool offer as
    :func:`~agentlab.graphs.react.build_react_agent`; the budget applies to each trial). A trial
    that ends with an error (step limit, budget) fails with that error as its feedback.
    ``checker(task, answer)`` judges the answers; without one the model does. After a failed
    trial, unless it was the last, the model writes a reflection (at most 300 characters) that
    the following trials read. A checker or evaluator that raises ends the run with ``error``;
    the checkpoint before the ``evaluator`` stays in the thread's history, so the trial can be
    judged again without running it again. With memory, the run's lessons are stored with its
    episode, and later runs of similar tasks recall them into every trial's prompt head.
    """
    if max_trials < 1:
        raise UsageError(f"max_trials must be at least 1, not {max_trials}")
    nodes = _ReflexionNodes(spec, checker, max_trials)
    count = spec.model.get_num_tokens
    graph = StateGraph(ReflexionState)
    graph.add_node("begin", remembering(nodes.begin, spec.memory, count, report))
    graph.add_node("actor", steps_node("actor", nodes.actor))
    graph.add_node("evaluator", steps_node("evaluator", nodes.evaluator, spec, report))
    graph.add_node("reflect", steps_node("reflect", nodes.reflect))
    graph.add_edge(START, "begin")
    graph.add_edge("begin", "actor")
    graph.add_edge("actor", "evaluator")
    graph.add_conditional_edges("evaluator", _after_evaluator, ["reflect", END])
    graph.add_edge("reflect", "actor")
    return graph.compile(checkpointer=spec.checkpointer, name="reflexion")
