"""The ``agentlab`` command: user mistakes exit 2 with a message, run failures exit 1, Ctrl-C
exits 130."""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    try:
        _main()
    except KeyboardInterrupt:  # while the command's modules load, before typer can catch it
        sys.stderr.write("\ninterrupted\n")
        sys.exit(130)


def _main() -> None:
    from rich.console import Console
    from rich.markup import escape

    from agentlab.cli._app import app
    from agentlab.errors import RunError, UsageError

    err = Console(stderr=True, highlight=False)
    try:
        app()
    except UsageError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}")  # as written, brackets too
        sys.exit(2)
    except RunError as exc:
        err.print(f"[bold red]failed:[/] {escape(str(exc))}")
        sys.exit(1)
