"""Tool plugins discovered through the ``agentlab.tools`` entry points of installed packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentlab.tools._plugins import ENTRY_POINT_GROUP, PluginTools, discover_plugins

DIST = "acme-plugin-tools 1.0"
MODULES = ("acme_plugin_tools", "acme_broken_plugin")

PLUGIN_SOURCE = '''
from langchain_core.tools import tool


def forecast(city: str, days: int = 1) -> str:
    """Weather forecast for a city.

    Args:
        city: the city name
        days: how many days ahead
    """
    return f"{city}: sunny for {days} day(s)"


@tool
def tide(port: str) -> str:
    """Next high tide at a port."""
    return f"{port}: 14:05"


def undocumented(x: int) -> int:
    return x


TOOLS = [forecast, tide]
NUMBER = 3
EMPTY = ()
'''

ENTRY_POINTS = """
[agentlab.tools]
acme = acme_plugin_tools:TOOLS
single = acme_plugin_tools:forecast
broken = acme_broken_plugin:TOOLS
missing = acme_plugin_tools:NOPE
number = acme_plugin_tools:NUMBER
empty = acme_plugin_tools:EMPTY
nodoc = acme_plugin_tools:undocumented

[console_scripts]
acme = acme_plugin_tools:main
"""


def make_distribution(root: Path) -> Path:
    """An installed-looking distribution: a module and its dist-info, as pip would lay them out."""
    (root / "acme_plugin_tools.py").write_text(PLUGIN_SOURCE)
    (root / "acme_broken_plugin.py").write_text("raise RuntimeError('plugin exploded')\n")
    info = root / "acme_plugin_tools-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-plugin-tools\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(ENTRY_POINTS))
    return root


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = make_distribution(tmp_path)
    monkeypatch.syspath_prepend(str(root))
    yield root
    for name in MODULES:  # the next test's plugin modules must be imported afresh
        sys.modules.pop(name, None)


def acme(plugins: list[PluginTools]) -> dict[str, PluginTools]:
    ours = [p for p in plugins if p.distribution == DIST]
    return {p.entry_point.split(" = ")[0]: p for p in ours}


def test_group_name() -> None:
    assert ENTRY_POINT_GROUP == "agentlab.tools"


def test_discovers_tools_with_their_distribution(site: Path) -> None:
    found = acme(discover_plugins())
    plugin = found["acme"]
    assert plugin == PluginTools("acme = acme_plugin_tools:TOOLS", DIST, plugin.tools, None)
    assert [t.name for t in plugin.tools] == ["forecast", "tide"]
    forecast, tide = plugin.tools
    assert forecast.invoke({"city": "Oslo", "days": 2}) == "Oslo: sunny for 2 day(s)"
    assert forecast.args["city"]["description"] == "the city name"
    assert tide.invoke({"port": "Bergen"}) == "Bergen: 14:05"
    assert [t.name for t in found["single"].tools] == ["forecast"]


def test_broken_plugins_are_reported_not_raised(site: Path) -> None:
    found = acme(discover_plugins())
    errors = {name: p.error for name, p in found.items() if p.error is not None}
    assert set(errors) == {"broken", "missing", "number", "empty", "nodoc"}
    assert all(found[name].tools == () for name in errors)
    assert errors["broken"] == "RuntimeError: plugin exploded"
    assert errors["missing"] is not None and "NOPE" in errors["missing"]
    assert errors["number"] == "acme_plugin_tools:NUMBER is not a function or a LangChain tool"
    assert errors["empty"] is not None and "empty list" in errors["empty"]
    assert errors["nodoc"] is not None and "undocumented has no docstring" in errors["nodoc"]


def test_other_groups_are_ignored(site: Path) -> None:
    assert "acme = acme_plugin_tools:main" not in {p.entry_point for p in discover_plugins()}


def test_without_plugins_discovery_is_quiet() -> None:
    assert acme(discover_plugins()) == {}


def test_discovery_in_a_fresh_interpreter(tmp_path: Path) -> None:
    root = make_distribution(tmp_path)
    code = textwrap.dedent(
        """
        import json
        from agentlab.tools._plugins import discover_plugins

        print(json.dumps([
            [p.entry_point, p.distribution, [t.name for t in p.tools], p.error]
            for p in discover_plugins()
        ]))
        """
    )
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    by_entry = {row[0]: row[1:] for row in json.loads(done.stdout) if row[1] == DIST}
    assert by_entry["acme = acme_plugin_tools:TOOLS"] == [DIST, ["forecast", "tide"], None]
    assert by_entry["broken = acme_broken_plugin:TOOLS"] == [
        DIST,
        [],
        "RuntimeError: plugin exploded",
    ]
