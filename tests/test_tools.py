"""Tool wrapping, --tools loading and the demo tools."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agentlab.errors import ToolLoadError
from agentlab.tools import as_tool, load_tools
from agentlab.tools.demo import calculator, convert_units, get_weather, lookup


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "my_tools.py").write_text(
        "from langchain_core.tools import tool\n"
        "def shout(text: str) -> str:\n"
        '    """Uppercase a text.\n\n    Args:\n        text: the text\n    """\n'
        "    return text.upper()\n"
        "@tool\n"
        "def whisper(text: str) -> str:\n"
        '    """Lowercase a text."""\n'
        "    return text.lower()\n"
        "def undocumented(x: int) -> int:\n"
        "    return x\n"
        "BOTH = [shout, whisper]\n"
        "NUMBER = 3\n"
        "EMPTY = []\n"
    )
    (tmp_path / "broken_tools.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return "my_tools"


def test_functions_tools_and_lists_load(user_module: str) -> None:
    tools = load_tools(f"{user_module}:BOTH")
    assert [t.name for t in tools] == ["shout", "whisper"]
    shout = tools[0]
    assert shout.invoke({"text": "hi"}) == "HI"
    assert shout.args["text"]["description"] == "the text"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nomodule_xyz:f", "cannot import module 'nomodule_xyz'"),
        ("my_tools:missing", "has no attribute 'missing'"),
        ("my_tools:NUMBER", "is not a function or a LangChain tool"),
        ("my_tools:undocumented", "has no docstring"),
        ("my_tools:EMPTY", "empty list"),
        ("my_tools", "neither MODULE:ATTR (e.g. mytools:TOOLS) nor an installed plugin"),
        (":x", "is not MODULE:ATTR"),
        ("broken_tools:x", "RuntimeError: boom at import"),
        ("my_tools:shout,my_tools:shout", "repeated: shout"),
    ],
)
def test_bad_tool_specs_name_the_problem(user_module: str, spec: str, message: str) -> None:
    with pytest.raises(ToolLoadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_tools(spec)


def test_langchain_tools_pass_through() -> None:
    wrapped = as_tool(calculator)
    assert as_tool(wrapped) is wrapped


def test_demo_tools_are_deterministic() -> None:
    assert calculator("347 * 29") == "10063"
    assert calculator("(1250 - 380) / 6") == "145"
    assert calculator("2 ^ 20") == "1048576"
    assert "Maya Okafor" in lookup("Project Falcon")
    assert "Oslo" in lookup("Norwind Labs headquarters")
    assert lookup("zzz qqq").startswith("No entry")
    assert get_weather("oslo") == "Oslo: 4 °C, light snow, wind 12 km/h"
    assert convert_units(42, "km", "mi") == "42 km = 26.1 mi"
    assert convert_units(100, "F", "C") == "100 F = 37.78 C"
    assert convert_units(16, "celsius", "fahrenheit") == "16 celsius = 60.8 fahrenheit"


def test_demo_tools_reject_bad_input_with_a_reason() -> None:
    with pytest.raises(ValueError, match="not an arithmetic expression"):
        calculator("three plus")
    with pytest.raises(ValueError, match="unsupported"):
        calculator("__import__('os')")
    with pytest.raises(ValueError, match="known cities"):
        get_weather("Atlantis")
    with pytest.raises(ValueError, match="cannot convert"):
        convert_units(1, "kg", "km")
