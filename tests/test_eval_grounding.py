"""Evaluating answers from documents: suites with ``sources``, context recall and precision
read from the runs' ``search_knowledge`` observations, and faithfulness (a word check and a
judge model; scripted here, so this tests the scoring, not a model's judgement)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import agentlab, assert_usage_error
from langgraph.checkpoint.memory import InMemorySaver

from agentlab.cli._eval import SuiteTask, load_suite, run_suite
from agentlab.cli._faithfulness import Judgement, content_terms, judge_faithfulness, lexical_support
from agentlab.cli._grounding import grounding_scores, retrieved_passages, settings_judge
from agentlab.config import DEFAULT_MODEL, load_settings
from agentlab.errors import UsageError
from agentlab.graphs import AgentSpec
from agentlab.graphs.react import build_react_agent
from agentlab.memory import CITE_REQUEST, NOT_FOUND, cited_passages
from agentlab.testing import ScriptedChatModel, answer, call
from agentlab.tools import tool

LISBON = "The Lisbon office is at Rua das Gaivotas 41. We occupy the 5th floor (north wing)."
PORTO = "The Porto office is at Rua do Almada 118 and takes the whole 3rd floor."
HOTELS = "Hotels: Lisbon up to €165 per night, Porto up to €150 per night."
OBSERVATION = (
    f"{CITE_REQUEST}\n\n[offices.md#Offices > Lisbon] {LISBON}\n\n"
    f"[offices.md#Offices > Porto] {PORTO}\n\n[policies/expenses.md#Travel > Hotels] {HOTELS}"
)


def _search(result: str) -> dict[str, Any]:
    return {"name": "search_knowledge", "args": {"query": "q"}, "result": result, "error": None}


def test_an_observation_is_read_back_as_its_cited_passages() -> None:
    passages = cited_passages(OBSERVATION)
    assert [(p.source, p.heading) for p in passages] == [
        ("offices.md", "Offices > Lisbon"), ("offices.md", "Offices > Porto"),
        ("policies/expenses.md", "Travel > Hotels"),
    ]  # fmt: skip
    assert passages[0].text == LISBON and passages[2].text == HOTELS
    assert cited_passages(f"{NOT_FOUND}: no passage mentions 'x'.") == []
    other = {"name": "calculator", "args": {}, "result": "[a.md#B] 42", "error": None}
    assert retrieved_passages([other, _search(OBSERVATION)]) == passages


def test_recall_and_precision_against_the_labelled_sources() -> None:
    scores = grounding_scores(["offices.md"], "Which floor?", "The 5th floor [offices.md#Offices > "
                              "Lisbon].", [_search(OBSERVATION)])  # fmt: skip
    assert scores["retrieved"] == ["offices.md", "policies/expenses.md"]
    assert scores["context_recall"] == 1.0
    assert scores["context_precision"] == round(2 / 3, 4)
    # a label may name the file alone; one of two labelled sources found is half the recall
    half = grounding_scores(["expenses.md", "benefits.pdf"], "Hotel?", "€165",
                            [_search(OBSERVATION)])  # fmt: skip
    assert half["context_recall"] == 0.5 and half["context_precision"] == round(1 / 3, 4)
    nothing = grounding_scores(["offices.md"], "Which floor?", "The 5th floor.", [])
    assert nothing["context_recall"] == 0.0 and nothing["context_precision"] is None
    assert nothing["faithfulness"] is None and nothing["supported"] is None


def test_the_word_check_counts_the_answers_content_words_found_in_the_passages() -> None:
    assert content_terms("The office is on the 5th floor [offices.md#Offices], 1,200 m².") == [
        "office", "5", "floor", "1200"
    ]  # fmt: skip
    assert lexical_support("Lisbon's office: 5th floor, north wing.", [LISBON]) == 1.0
    invented = lexical_support("The Lisbon office is on the 7th floor, south wing.", [LISBON])
    assert invented is not None and invented < 0.75
    assert lexical_support("Offices in Lisbon", [LISBON]) == 1.0  # another ending counts
    assert lexical_support("Yes.", [LISBON]) is None and lexical_support("5th", []) is None


def test_the_judge_answers_under_its_schema() -> None:
    model = ScriptedChatModel(turns=[call("Faithfulness", supported=False,
                                          unsupported_claim="the 7th floor")])  # fmt: skip
    verdict = judge_faithfulness(model, "Which floor?", "The 7th floor.", [LISBON])
    assert verdict == Judgement(False, "the 7th floor")
    assert model.bound_tools == ["Faithfulness"]
    shown = "\n".join(m.text for m in model.seen[0])
    assert LISBON in shown and "The 7th floor." in shown and "Which floor?" in shown
    model = ScriptedChatModel(turns=[call("Faithfulness", supported=True, unsupported_claim="x")])
    assert judge_faithfulness(model, "Q", "A", [LISBON]) == Judgement(True, "")


def test_sources_are_read_from_the_suite_and_checked(tmp_path: Path) -> None:
    suite = tmp_path / "s.jsonl"
    suite.write_text('{"id": "a", "task": "Floor?", "expect": ["5"], "sources": ["offices.md"]}\n'
                     '{"id": "b", "task": "Hi?", "expect": []}\n')  # fmt: skip
    assert [t.sources for t in load_suite(suite)] == [("offices.md",), ()]
    suite.write_text('{"id": "a", "task": "Floor?", "expect": ["5"], "sources": "offices.md"}\n')
    with pytest.raises(UsageError, match='"sources" must be a list of file names'):
        load_suite(suite)


@tool
def search_knowledge(query: str) -> str:
    """Search the user's documents."""
    return OBSERVATION if "floor" in query else f"{NOT_FOUND}: no passage mentions {query!r}."


def test_a_suite_with_sources_reports_retrieval_and_faithfulness_per_task_and_in_total(
    tmp_path: Path,
) -> None:
    cited = "The 5th floor [offices.md#Offices > Lisbon]."
    model = ScriptedChatModel(turns=[
        call("search_knowledge", query="Lisbon floor"), answer(cited),
        answer("2 + 2 is 4."),
        call("search_knowledge", query="parking"), answer("The documents do not say."),
    ])  # fmt: skip
    graph = build_react_agent(AgentSpec(model, [search_knowledge], checkpointer=InMemorySaver()))
    offices = ("offices.md",)
    tasks = [SuiteTask("floor", "Which floor is the Lisbon office on?", ("5th",), sources=offices),
             SuiteTask("sum", "2 + 2?", ("4",)),
             SuiteTask("parking", "Where do I park?", ("garage",), sources=offices)]  # fmt: skip
    judged: list[tuple[str, str, list[str]]] = []

    def judge(question: str, answer: str, passages: Any) -> Judgement:
        judged.append((question, answer, list(passages)))
        return Judgement(True, "")

    report = run_suite(graph, tasks, max_steps=3, trace_path=None, judge=judge)
    floor, plain, parking = report["tasks"]
    assert floor["grounding"]["context_recall"] == 1.0 and floor["grounding"]["supported"] is True
    assert floor["grounding"]["faithfulness"] == 1.0
    assert "grounding" not in plain  # a task without sources keeps today's row
    assert parking["grounding"]["context_recall"] == 0.0
    assert parking["grounding"]["supported"] is None  # nothing retrieved: nothing to judge
    assert judged == [("Which floor is the Lisbon office on?", cited, [LISBON, PORTO, HOTELS])]
    assert report["grounding"] == {
        "tasks": 2, "answer_correctness": 0.5, "context_recall": 0.5,
        "context_precision": round(2 / 3, 4), "faithfulness": 1.0, "supported": 1.0, "judged": 1,
    }  # fmt: skip
    json.dumps(report)  # the report stays JSON


def test_a_suite_without_sources_has_no_grounding_and_judge_is_refused(tmp_path: Path) -> None:
    graph = build_react_agent(AgentSpec(ScriptedChatModel(turns=[answer("4")]), [],
                                        checkpointer=InMemorySaver()))  # fmt: skip
    report = run_suite(graph, [SuiteTask("sum", "2 + 2?", ("4",))], max_steps=2, trace_path=None)
    assert "grounding" not in report and "grounding" not in report["tasks"][0]
    suite = tmp_path / "plain.jsonl"
    suite.write_text('{"id": "sum", "task": "2 + 2?", "expect": ["4"]}\n')
    assert_usage_error(agentlab("eval", str(suite), "--judge"), "no task of")
    compared = agentlab("eval", "--compare", "a.json", "b.json", "--knowledge", "handbook")
    assert_usage_error(compared, "--knowledge only apply")


def test_the_judge_shares_the_agents_model_when_it_is_the_judge_model() -> None:
    settings = load_settings(model=DEFAULT_MODEL)
    model = ScriptedChatModel(turns=[call("Faithfulness", supported=True, unsupported_claim=""),
                                     answer("no verdict here")])  # fmt: skip
    judge = settings_judge(settings, model)
    assert judge("Q", "A", [LISBON]) == Judgement(True, "")
    assert judge("Q", "A", [LISBON]) is None  # an unusable verdict is no verdict, not a crash
    assert len(model.seen) == 2
