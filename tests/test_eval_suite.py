"""Suite files and reflexion's suite checker."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentlab.cli._eval import load_suite, suite_checker
from agentlab.errors import UsageError
from agentlab.graphs.reflexion import Verdict

SUITES = Path(__file__).resolve().parents[1] / "examples" / "suites"


def test_shipped_suites_load_and_the_feedback_suite_has_feedback_that_hides_the_answers() -> None:
    for suite in SUITES.glob("*.jsonl"):
        assert load_suite(suite)
    tasks = load_suite(SUITES / "feedback.jsonl")
    assert all(t.feedback for t in tasks)
    assert not any(e.lower() in t.feedback.lower() for t in tasks for e in t.expect)


def test_the_checker_passes_on_the_expected_strings_and_otherwise_gives_the_feedback(
    tmp_path: Path,
) -> None:
    suite = tmp_path / "s.jsonl"
    suite.write_text(
        '{"id": "a", "task": "T1", "expect": ["42"], "feedback": "Use the calculator."}\n'
        '{"id": "b", "task": "T2", "expect": ["alpha", "beta"]}\n'
    )
    check = suite_checker(load_suite(suite))
    assert check("T1", "it is 42") in (True, Verdict(True, ""))
    assert check("T1", "it is 41") == Verdict(False, "Use the calculator.")
    missing = check("T2", "only alpha")
    assert isinstance(missing, Verdict) and not missing.passed
    assert "1 of 2" in missing.feedback and "beta" not in missing.feedback


def test_a_feedback_that_is_not_a_string_names_the_line(tmp_path: Path) -> None:
    suite = tmp_path / "s.jsonl"
    suite.write_text('{"id": "a", "task": "T", "expect": [], "feedback": 3}\n')
    with pytest.raises(UsageError, match=r"s.jsonl:1: \"feedback\" must be a string"):
        load_suite(suite)
