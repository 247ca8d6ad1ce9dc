"""Charts need matplotlib, an optional extra (``agentlab[charts]``): it is imported only when a
chart is drawn, and a PNG is written atomically (a temporary file, then a rename)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from agentlab.errors import UsageError

__all__ = ["pyplot", "save_png"]


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the offline Agg backend, or a UsageError saying how to get it."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError(
            "drawing a chart needs matplotlib: pip install 'agentlab[charts]'"
        ) from None
    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path) -> None:
    """Save ``fig`` to ``path`` (never half-written) and close it."""
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=path.parent or Path("."))
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        pyplot().close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
