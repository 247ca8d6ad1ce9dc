"""``agentlab knowledge``: adding, listing, searching and removing documents from the command
line (the hash embedder: no model), an interrupted add, and drafting a suite (scripted model)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import pytest
from conftest import agentlab, assert_usage_error

from agentlab.cli._synth import (
    SourceSection,
    collection_sections,
    draft_question,
    draft_suite,
    spread,
    write_suite,
)
from agentlab.memory import KnowledgeBase
from agentlab.testing import HashEmbeddings, ScriptedChatModel, call

HASH = {"AGENTLAB_EMBEDDER": "hash"}
OFFICES = """# Offices

## Lisbon

The Lisbon office is at Rua das Gaivotas 41. We occupy the 5th floor (north wing); visitors
collect a badge at the reception on the 2nd floor.

## Porto

The Porto office is at Rua do Almada 118 and takes the whole 3rd floor.
"""
LEAVE = """Annual leave

Everyone gets 25 days of annual leave a year. Unused days expire at the end of March.
"""


def _handbook(root: Path) -> Path:
    folder = root / "handbook"
    folder.mkdir()
    (folder / "offices.md").write_text(OFFICES)
    (folder / "leave.txt").write_text(LEAVE)
    (folder / "empty.md").write_text("")
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    return folder


def _json(*args: str) -> Any:
    done = agentlab(*args, "--json", env=HASH)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # exactly one JSON value on stdout


def test_add_reports_each_file_and_adding_again_changes_nothing(tmp_path: Path) -> None:
    folder = _handbook(tmp_path)
    done = agentlab("knowledge", "add", str(folder), "--collection", "hb", env=HASH)
    assert done.returncode == 0, done.stderr
    assert "collection hb: 2 added, 2 skipped" in done.stdout
    assert "skipped empty.md: empty" in done.stderr
    assert "skipped photo.png: unsupported type" in done.stderr
    again = _json("knowledge", "add", str(folder), "--collection", "hb")
    assert again["added"] == [] and again["unchanged"] == ["leave.txt", "offices.md"]
    (folder / "leave.txt").write_text(LEAVE.replace("25 days", "27 days"))
    changed = _json("knowledge", "add", str(folder), "--collection", "hb")
    assert changed["replaced"] == ["leave.txt"] and changed["unchanged"] == ["offices.md"]
    listed = _json("knowledge", "list", "--collection", "hb")
    documents = listed["documents"]
    assert isinstance(documents, list)
    assert sorted(d["source"] for d in documents) == ["leave.txt", "offices.md"]
    stats = _json("knowledge", "stats")
    assert stats["documents"] == 2 and stats["collections"] == 1


def test_add_fails_when_no_file_could_be_read_and_refuses_wrong_paths(tmp_path: Path) -> None:
    folder = _handbook(tmp_path)
    failed = agentlab("knowledge", "add", str(folder / "photo.png"), env=HASH)
    assert failed.returncode == 1 and "photo.png: unsupported type" in failed.stderr
    assert "Traceback" not in failed.stderr
    missing = agentlab("knowledge", "add", str(tmp_path / "nowhere"), env=HASH)
    assert_usage_error(missing, "no such file or folder")
    named = agentlab("knowledge", "add", str(folder), "--collection", "a b", env=HASH)
    assert_usage_error(named, "a collection name is letters, digits")


def test_search_shows_ranked_passages_with_their_source_and_heading(tmp_path: Path) -> None:
    folder = _handbook(tmp_path)
    assert agentlab("knowledge", "add", str(folder), "--collection", "hb", env=HASH).returncode == 0
    found = _json("knowledge", "search", "Which floor is the Lisbon office on?",
                  "--collection", "hb", "--k", "2")  # fmt: skip
    results = found
    assert isinstance(results, list) and 1 <= len(results) <= 2
    best = results[0]
    assert (best["source"], best["heading"]) == ("offices.md", "Offices > Lisbon")
    assert "5th floor" in best["text"] and best["score"] > 0
    assert results == sorted(results, key=lambda r: -r["score"])
    only = _json("knowledge", "search", "office", "--collection", "hb", "--heading",
                 "Offices > Porto")  # fmt: skip
    assert {r["heading"] for r in only} == {"Offices > Porto"}
    leave = _json("knowledge", "search", "office", "--collection", "hb", "--source", "leave.txt",
                  "--mode", "sparse")  # fmt: skip
    assert {r["source"] for r in leave} <= {"leave.txt"}
    shown = agentlab("knowledge", "search", "Lisbon floor", "--collection", "hb", env=HASH)
    assert shown.returncode == 0 and "offices.md > Offices > Lisbon" in shown.stdout
    assert "mentions" not in shown.stderr
    near = agentlab("knowledge", "search", "Berlin office floor", "--collection", "hb", env=HASH)
    assert near.returncode == 0 and "offices.md" in near.stdout  # near misses still shown
    assert "no document in 'hb' mentions: berlin" in near.stderr


def test_searching_nothing_is_a_usage_error_not_an_empty_success(tmp_path: Path) -> None:
    unknown = agentlab("knowledge", "search", "floor", "--collection", "nope", env=HASH)
    assert_usage_error(unknown, "no knowledge collection 'nope'")
    folder = _handbook(tmp_path)
    agentlab("knowledge", "add", str(folder), "--collection", "hb", env=HASH)
    other = agentlab("knowledge", "search", "floor", "--collection", "nope", env=HASH)
    assert_usage_error(other, "(collections: hb)")
    mode = agentlab("knowledge", "search", "floor", "--collection", "hb", "--mode", "fuzzy")
    assert_usage_error(mode, "--mode is one of hybrid, dense, sparse")
    source = agentlab("knowledge", "search", "floor", "--collection", "hb", "--source", "x.md",
                      env=HASH)  # fmt: skip
    assert_usage_error(source, "no document 'x.md'")


def test_remove_drops_a_document_and_an_unknown_one_is_a_usage_error(tmp_path: Path) -> None:
    folder = _handbook(tmp_path)
    agentlab("knowledge", "add", str(folder), "--collection", "hb", env=HASH)
    removed = _json("knowledge", "remove", "offices.md", "--collection", "hb")
    assert removed["source"] == "offices.md" and removed["chunks"] > 0  # type: ignore[operator]
    listed = _json("knowledge", "list")
    assert [d["source"] for d in listed["documents"]] == ["leave.txt"]
    again = agentlab("knowledge", "remove", "offices.md", "--collection", "hb", env=HASH)
    assert_usage_error(again, "no document 'offices.md'")


def test_the_knowledge_setting_is_the_default_collection(tmp_path: Path) -> None:
    folder = _handbook(tmp_path)
    env = {**HASH, "AGENTLAB_KNOWLEDGE": "team"}
    assert agentlab("knowledge", "add", str(folder), env=env).returncode == 0
    done = agentlab("knowledge", "search", "annual leave", "--json", env=env)
    assert done.returncode == 0 and json.loads(done.stdout)  # found in "team"
    other = agentlab("knowledge", "search", "annual leave", "--collection", "default", env=env)
    assert_usage_error(other, "no knowledge collection 'default' (collections: team)")


def _finished(catalog: Path) -> int:
    """How many documents an add in progress has finished (read-only; 0 while unreadable)."""
    try:
        with sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=0.2) as db:
            row = db.execute("SELECT count(*) FROM documents WHERE state = 'done'").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0])


def test_ctrl_c_during_add_leaves_whole_documents_and_exits_130(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    parts = "\n\n".join(f"## Part {p}\n\nItem {p} costs {p * 7} euros." for p in range(30))
    files = [folder / f"doc{number:03d}.md" for number in range(60)]
    for number, path in enumerate(files):
        path.write_text(f"# Doc {number}\n\n{parts}\n")
    child = subprocess.Popen(
        [sys.executable, "-m", "agentlab", "knowledge", "add", str(folder), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **HASH},
    )  # fmt: skip
    home = Path(os.environ["AGENTLAB_HOME"]) / "knowledge"
    deadline = time.monotonic() + 120
    while _finished(home / "documents.sqlite") < 2 and child.poll() is None:
        assert time.monotonic() < deadline, "the add did not get going"
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)  # in the middle of a document, most likely
    stdout, stderr = child.communicate(timeout=60)
    if child.returncode == 0:
        pytest.skip("the add finished before the interrupt arrived")
    assert child.returncode == 130, stderr
    assert "holds whole documents only" in stderr and "Traceback" not in stderr
    assert stdout == ""
    kb = KnowledgeBase.open(home, HashEmbeddings())
    try:
        documents = kb.documents("default")
    finally:
        kb.close()
    assert 2 <= len(documents) < 60
    assert all(d.chunks == documents[0].chunks > 0 for d in documents)  # each one whole
    again = _json("knowledge", "add", *map(str, files[: len(documents) + 1]))
    assert len(again["unchanged"]) == len(documents) and len(again["added"]) == 1  # type: ignore[arg-type]


def test_sections_are_spread_over_the_documents(tmp_path: Path) -> None:
    kb = KnowledgeBase.open(tmp_path / "kb", HashEmbeddings())
    try:
        (tmp_path / "offices.md").write_text(OFFICES)
        (tmp_path / "leave.txt").write_text(LEAVE * 2)
        kb.add([tmp_path / "offices.md", tmp_path / "leave.txt"], "hb")
        sections = collection_sections(kb, "hb")
    finally:
        kb.close()
    by_heading = {(s.source, s.heading): s.text for s in sections}
    assert "5th floor" in by_heading[("offices.md", "Offices > Lisbon")]
    assert "Rua do Almada 118" in by_heading[("offices.md", "Offices > Porto")]
    assert "25 days" in by_heading[("leave.txt", "")]
    order = [s.source for s in spread(sections)]
    assert order[:2] in (["leave.txt", "offices.md"], ["offices.md", "leave.txt"])


LISBON = SourceSection("offices.md", "Offices > Lisbon", OFFICES.split("## Lisbon")[1])


def test_a_draft_whose_facts_are_not_in_the_section_is_dropped() -> None:
    good = ScriptedChatModel(turns=[call("Draft", question="Which floor is the Lisbon office on?",
                                         expect=["5th floor"])])  # fmt: skip
    draft = draft_question(good, LISBON)
    assert draft is not None and draft.expect == ["5th floor"]
    made_up = ScriptedChatModel(turns=[call("Draft", question="Which floor?", expect=["7th"])])
    assert draft_question(made_up, LISBON) is None


def test_a_drafted_suite_is_spread_over_documents_and_written_atomically(tmp_path: Path) -> None:
    leave = SourceSection("leave.txt", "", LEAVE * 2)
    porto = SourceSection("offices.md", "Offices > Porto", OFFICES.split("## Porto")[1] * 2)
    model = ScriptedChatModel(turns=[
        call("Draft", question="Which floor is the Lisbon office on?", expect=["5th floor"]),
        call("Draft", question="How many days of leave?", expect=["25 days"]),
        call("Draft", question="Porto address?", expect=["Almada 118"]),
    ])  # fmt: skip
    heard: list[tuple[int, int]] = []
    lines = draft_suite([LISBON, porto, leave], model, 2,
                        on_draft=lambda done, n, _: heard.append((done, n)))  # fmt: skip
    assert [line["sources"] for line in lines] == [["offices.md"], ["leave.txt"]]
    assert lines[0] == {
        "id": "synth-001", "task": "Which floor is the Lisbon office on?",
        "expect": ["5th floor"], "sources": ["offices.md"], "kind": "synth",
    }  # fmt: skip
    assert heard == [(1, 2), (2, 2)]
    out = tmp_path / "suite.jsonl"
    out.write_text("old\n")
    write_suite(out, lines)
    assert [json.loads(line) for line in out.read_text().splitlines()] == lines
    assert os.listdir(tmp_path) == ["suite.jsonl"]  # no temporary file left behind
    synth = agentlab("knowledge", "synth", "hb", "--out", str(tmp_path / "no" / "s.jsonl"))
    assert_usage_error(synth, "folder")


def test_a_ctrl_c_while_the_commands_load_exits_130_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from agentlab.cli import main

    class Loading(types.ModuleType):
        def __getattr__(self, name: str) -> Any:
            raise KeyboardInterrupt  # Ctrl-C while the command modules are imported

    monkeypatch.setitem(sys.modules, "agentlab.cli._app", Loading("agentlab.cli._app"))
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 130
    assert capsys.readouterr().err == "\ninterrupted\n"
