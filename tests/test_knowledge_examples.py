"""The example handbook (examples/knowledge/): it ingests, its suites are well-formed and their
labels are true to the documents, and its PDF is rebuilt byte for byte by make_pdf.py."""

from __future__ import annotations

import html
import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from agentlab.cli._eval import load_suite

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "examples" / "knowledge"
HANDBOOK = FOLDER / "handbook"
SUITES = {"dev": FOLDER / "suite_dev.jsonl", "test": FOLDER / "suite_test.jsonl"}
KINDS = {"lookup", "multi-doc", "not-found", "heading"}
SKIPPED = {"lisbon-floor5.png"}  # an image: skipped as an unsupported type, on purpose
# what each not-found question asks about: no document has the word
ABSENT = {
    "dev-dental": "dental",
    "dev-berlin": "berlin",
    "test-vacation-days": "vacation",
    "test-heron-mini": "mini",
}


def _make_pdf() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_pdf", FOLDER / "make_pdf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _suite(split: str) -> list[dict[str, Any]]:
    lines = SUITES[split].read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _documents() -> list[str]:
    return sorted(
        path.relative_to(HANDBOOK).as_posix()
        for path in HANDBOOK.rglob("*")
        if path.is_file() and path.name not in SKIPPED
    )


def _plain_text(source: str) -> str:
    """A document's words as a reader sees them (tags dropped; the PDF from its source text)."""
    if source.endswith(".pdf"):
        pytest.importorskip("fpdf")
        return " ".join(text for _, text in _make_pdf().CONTENT)
    text = (HANDBOOK / source).read_text(encoding="utf-8")
    if source.endswith(".html"):
        text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("split", sorted(SUITES))
def test_suite_lines_are_well_formed(split: str) -> None:
    documents = set(_documents())
    tasks = _suite(split)
    assert len(tasks) == 12
    for task in tasks:
        assert set(task) == {"id", "task", "expect", "sources", "kind"}, task
        assert task["id"].startswith(f"{split}-")
        assert task["task"].strip() and task["kind"] in KINDS
        assert task["expect"] and all(isinstance(e, str) and e for e in task["expect"])
        assert set(task["sources"]) <= documents, task["id"]
        if task["kind"] == "not-found":
            assert task["expect"] == ["not found"] and task["sources"] == []
        else:
            assert task["sources"], task["id"]
        if task["kind"] == "multi-doc":
            assert len(task["sources"]) >= 2, task["id"]
    assert sum(t["kind"] == "not-found" for t in tasks) == 2
    assert [t.id for t in load_suite(SUITES[split])] == [t["id"] for t in tasks]


def test_suite_labels_are_true_to_the_documents() -> None:
    tasks = _suite("dev") + _suite("test")
    assert len({t["id"] for t in tasks}) == len(tasks)
    everything = " ".join(_plain_text(source) for source in _documents()).casefold()
    for task in tasks:
        if task["kind"] == "not-found":
            assert not re.search(rf"\b{ABSENT[task['id']]}\b", everything), task["id"]
            continue
        text = " ".join(_plain_text(source) for source in task["sources"]).casefold()
        for expected in task["expect"]:
            assert expected.casefold() in text, (task["id"], expected)


def test_faithfulness_labels_are_well_formed() -> None:
    lines = (FOLDER / "faithfulness_labels.jsonl").read_text(encoding="utf-8").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    assert len(items) >= 20
    for item in items:
        assert set(item) == {"question", "answer", "passages", "supported"}
        assert isinstance(item["supported"], bool)
        assert item["question"] and item["answer"] and item["passages"]
        assert all(isinstance(p, str) and p for p in item["passages"])
    unsupported = sum(not item["supported"] for item in items)
    assert 0.4 <= unsupported / len(items) <= 0.6


def test_pdf_is_rebuilt_byte_for_byte(tmp_path: Path) -> None:
    pytest.importorskip("fpdf")
    built = _make_pdf().build(tmp_path / "benefits.pdf")
    assert built.read_bytes() == (HANDBOOK / "benefits.pdf").read_bytes(), (
        "rebuild it: .venv/bin/python examples/knowledge/make_pdf.py"
    )


def test_handbook_ingests_every_document(tmp_path: Path) -> None:
    from agentlab.memory import KnowledgeBase
    from agentlab.testing import HashEmbeddings

    kb = KnowledgeBase.open(tmp_path / "kb", HashEmbeddings(64))
    try:
        report = kb.add([HANDBOOK], collection="handbook")
        assert sorted(report.added) == _documents()
        assert [source for source, _ in report.skipped] == sorted(SKIPPED)
        assert all(reason.startswith("unsupported") for _, reason in report.skipped)
        assert report.warnings == []
        chunks = {info.source: info.chunks for info in kb.documents("handbook")}
        assert all(count > 0 for count in chunks.values()), chunks
        passages = kb.search("WS-210 temperature range", collection="handbook", mode="sparse")
        assert passages[0].source == "products.html"
        assert "85" in passages[0].text
    finally:
        kb.close()
