"""Writing a matplotlib figure as a PNG atomically: a temporary file, then a rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["save_png"]


def save_png(fig: Any, path: Path) -> None:
    """Save ``fig`` to ``path`` (never half-written) and close it."""
    import matplotlib.pyplot as plt

    fd, tmp = tempfile.mkstemp(suffix=".png", dir=path.parent or Path("."))
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
