"""The tool guide's code (docs/TOOLS.md) runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "TOOLS.md"


def test_the_guides_tool_module_and_its_test_pass(tmp_path: Path) -> None:
    module, test = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)[:2]
    (tmp_path / "ticket_tools.py").write_text(module)
    (tmp_path / "test_ticket_tools.py").write_text(test)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_ticket_tools.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
