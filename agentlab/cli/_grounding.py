"""Scores of a run on a task whose answer lies in known documents (a suite line's ``sources``).

What a run retrieved is read from its own tool calls: the passages its ``search_knowledge``
observations showed, with their source ids. From those and the task's labelled sources:

- context recall: the share of the labelled sources that some retrieved passage came from;
- context precision: the share of retrieved passages that came from a labelled source;
- faithfulness: the answer against the retrieved text, lexically and (with a judge) by a model.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel
from pydantic import ValidationError

from agentlab.cli._faithfulness import Judgement, judge_faithfulness, lexical_support
from agentlab.config import DEFAULT_MODEL, Settings
from agentlab.llm import LlamaChatModel, side_model
from agentlab.memory import CitedPassage, cited_passages

__all__ = [
    "Judge",
    "grounding_cells",
    "grounding_scores",
    "grounding_summary",
    "mean_grounding",
    "percent",
    "retrieved_passages",
    "same_source",
    "settings_judge",
]

SEARCH_TOOL = "search_knowledge"

Judge = Callable[[str, str, Sequence[str]], Judgement | None]
"""``judge(question, answer, passages)``: whether the answer is supported by the passages
(``None``: the judge gave no usable verdict)."""

_SCORES = ("context_recall", "context_precision", "faithfulness", "supported")


def retrieved_passages(tool_calls: Sequence[dict[str, Any]]) -> list[CitedPassage]:
    """Every passage the run's ``search_knowledge`` calls returned, in order."""
    return [
        passage
        for call in tool_calls
        if call.get("name") == SEARCH_TOOL and call.get("result")
        for passage in cited_passages(str(call["result"]))
    ]


def same_source(retrieved: str, labelled: str) -> bool:
    """A label may name a file by its name alone: ``offices.md`` labels ``policies/offices.md``."""
    return retrieved == labelled or retrieved.endswith("/" + labelled)


def grounding_scores(
    sources: Sequence[str],
    question: str,
    answer: str,
    tool_calls: Sequence[dict[str, Any]],
    *,
    judge: Judge | None = None,
) -> dict[str, Any]:
    """A run's scores against the labelled ``sources``. Precision, faithfulness and the
    judge's verdict are ``None`` when the run retrieved nothing (or gave no answer)."""
    passages = retrieved_passages(tool_calls)
    hits = [any(same_source(p.source, label) for label in sources) for p in passages]
    found = [label for label in sources if any(same_source(p.source, label) for p in passages)]
    texts = [p.text for p in passages]
    verdict = judge(question, answer, texts) if judge is not None and texts and answer else None
    return {
        "sources": list(sources),
        "retrieved": list(dict.fromkeys(p.source for p in passages)),
        "context_recall": round(len(found) / len(sources), 4) if sources else None,
        "context_precision": round(sum(hits) / len(hits), 4) if hits else None,
        "faithfulness": lexical_support(answer, texts) if answer else None,
        "supported": None if verdict is None else verdict.supported,
        "unsupported_claim": None if verdict is None else verdict.unsupported_claim,
    }


def _mean(values: Sequence[float | bool | None]) -> float | None:
    known = [float(v) for v in values if v is not None]
    return round(statistics.fmean(known), 4) if known else None


def mean_grounding(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A task's scores over its repeats: the first run's lists, the means of the scores (the
    judge's verdict as the share of runs judged supported)."""
    first = runs[0]
    means = {key: _mean([run[key] for run in runs]) for key in _SCORES}
    return {**first, **means, "unsupported_claim": first["unsupported_claim"]}


def grounding_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The totals over the tasks that have labelled sources (``None`` when none has):
    answer correctness (the share of runs that passed their ``expect`` check) and the mean of
    each score over every run it applies to."""
    runs = [run for row in rows if "grounding" in row for run in row["runs"]]
    if not runs:
        return None
    scores = [run["grounding"] for run in runs]
    return {
        "tasks": sum("grounding" in row for row in rows),
        "answer_correctness": _mean([bool(run["passed"]) for run in runs]),
        **{key: _mean([score[key] for score in scores]) for key in _SCORES},
        "judged": sum(score["supported"] is not None for score in scores),
    }


def settings_judge(settings: Settings, agent_model: BaseChatModel | None = None) -> Judge:
    """The faithfulness judge on ``settings.judge_model`` (the default model unless set). When
    the agent runs on that same model, the judge shares it (as side calls, which keep the
    agent's cached prompt); otherwise the judge's model is loaded on its first verdict."""
    name = settings.judge_model or DEFAULT_MODEL
    loaded: list[BaseChatModel] = []
    if agent_model is not None and name == settings.model:
        loaded.append(side_model(agent_model))

    def judge(question: str, answer: str, passages: Sequence[str]) -> Judgement | None:
        if not loaded:
            loaded.append(LlamaChatModel.from_settings(settings.model_copy(update={"model": name})))
        try:
            return judge_faithfulness(loaded[0], question, answer, passages)
        except (OutputParserException, ValidationError):  # one bad verdict spoils no suite
            return None

    return judge


def percent(value: float | bool | None) -> str:
    """A score as a percentage (a single verdict as yes or no); '-' where it does not apply
    (nothing retrieved, no judge)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "-" if value is None else f"{value:.0%}"


def grounding_cells(row: dict[str, Any]) -> tuple[str, str, str, str]:
    """A task row's recall, precision, faithfulness and judged support, for a table."""
    scores = row.get("grounding")
    if scores is None:
        return ("", "", "", "")
    recall, precision, words, judged = (percent(scores[key]) for key in _SCORES)
    return (recall, precision, words, judged)
