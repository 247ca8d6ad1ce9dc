"""`agentlab graph PATTERN --mermaid | --png FILE`, as subprocesses (no model needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import agentlab, assert_snapshot

from agentlab.cli._figure import pyplot
from agentlab.errors import UsageError


@pytest.mark.parametrize(
    ("pattern", "snapshot"),
    [("react", "react.mmd"), ("plan-execute", "plan_execute.mmd"),
     ("reflexion", "reflexion.mmd"), ("multi-agent", "multi_agent.mmd"), ("rewoo", "rewoo.mmd")],
)  # fmt: skip
def test_mermaid_matches_the_pinned_shape(pattern: str, snapshot: str) -> None:
    done = agentlab("graph", pattern, "--mermaid")
    assert done.returncode == 0, done.stderr
    assert_snapshot(done.stdout, snapshot)


def test_png_is_drawn_offline(tmp_path: Path) -> None:
    target = tmp_path / "plan.png"
    done = agentlab("graph", "plan-execute", "--png", str(target))
    assert done.returncode == 0, done.stderr
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert target.stat().st_size > 5000 and done.stdout == ""
    assert list(tmp_path.iterdir()) == [target]  # no temp file left behind


def test_bad_pattern_or_folder_is_a_usage_error(tmp_path: Path) -> None:
    unknown = agentlab("graph", "tree-of-thought")
    assert unknown.returncode == 2 and "unknown pattern" in unknown.stderr
    nowhere = agentlab("graph", "react", "--png", str(tmp_path / "no" / "x.png"))
    assert nowhere.returncode == 2 and "does not exist" in nowhere.stderr


def test_without_matplotlib_a_chart_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what a missing package looks like
    with pytest.raises(UsageError, match=r"pip install 'agentlab\[charts\]'"):
        pyplot()


def test_the_command_line_loads_matplotlib_only_to_draw() -> None:
    probe = "import sys, agentlab.cli._app; print('matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
