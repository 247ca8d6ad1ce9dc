"""`agentlab tools list|stats` and plugin tools on the command line, as subprocesses."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import agentlab

from agentlab.tools import ToolStats

PLUGIN = '''
from agentlab.tools import tool

@tool(side_effects="acting", timeout_s=5, cost=2)
def post_message(channel: str, text: str) -> str:
    """Post a message to a chat channel."""
    return "posted"

TOOLS = [post_message]
'''


def cli(*args: str, site: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return agentlab(*args, env={"PYTHONPATH": str(site), "AGENTLAB_HOME": str(home)})


def make_plugin(site: Path) -> None:
    site.mkdir()
    (site / "chat_plugin.py").write_text(PLUGIN)
    info = site / "chat_plugin-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: chat-plugin\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text("[agentlab.tools]\nchat = chat_plugin:TOOLS\n")


def test_tools_list_shows_builtins_plugins_and_their_metadata(tmp_path: Path) -> None:
    make_plugin(tmp_path / "site")
    done = cli("tools", "list", "--json", site=tmp_path / "site", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)["tools"]}
    assert {"calculator", "python_exec", "post_message"} <= set(rows)
    post = rows["post_message"]
    assert post["side_effects"] == "acting" and post["needs_approval"] is True
    assert post["timeout_s"] == 5 and post["cost"] == 2
    assert post["source"] == "plugin chat = chat_plugin:TOOLS (chat-plugin 0.3)"
    by_name = cli("tools", "list", "--tools", "chat", "--json", site=tmp_path / "site",
                  home=tmp_path / "home")  # fmt: skip
    sources = [
        r["source"] for r in json.loads(by_name.stdout)["tools"] if r["name"] == "post_message"
    ]
    assert "--tools chat" in sources  # a plugin loads by its entry-point name too
    unknown = cli("tools", "list", "--tools", "nochat", site=tmp_path / "site", home=tmp_path)
    assert unknown.returncode == 2 and "plugins: chat" in unknown.stderr


def test_tools_stats_reports_recorded_calls_and_withheld_tools(tmp_path: Path) -> None:
    home = tmp_path / "home"
    empty = cli("tools", "stats", site=tmp_path, home=home)
    assert "no tool calls recorded yet" in empty.stdout
    with ToolStats(home / "tools.sqlite") as stats:
        stats.record("lookup", ms=12, ok=True, cost=1)
        for _ in range(3):
            stats.record("fx_rate", ms=30, ok=False, cost=1, error="ConnectionError: down")
    rows = json.loads(cli("tools", "stats", "--json", site=tmp_path, home=home).stdout)["tools"]
    by_name = {row["name"]: row for row in rows}
    assert by_name["lookup"]["calls"] == 1 and by_name["lookup"]["withheld"] is False
    assert by_name["fx_rate"]["success_rate"] == 0 and by_name["fx_rate"]["withheld"] is True
    table = cli("tools", "stats", site=tmp_path, home=home).stdout
    assert "withheld" in table and "fx_rate" in table
