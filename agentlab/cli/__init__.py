"""The ``agentlab`` command: user mistakes exit 2 with a message, run failures exit 1, Ctrl-C
exits 130."""

from __future__ import annotations

import gc
import sys

__all__ = ["main"]


def main() -> None:
    try:
        _main()
    except KeyboardInterrupt:  # while the command's modules load, before typer can catch it
        sys.stderr.write("\ninterrupted\n")
        sys.exit(130)
    finally:
        # What the command wrote is closed by now. The collection at interpreter exit would
        # walk every object of LangChain, LangGraph and the model: a third of a second.
        gc.freeze()


def _main() -> None:
    _start_loading_model(sys.argv[1:])
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


# Flags of ``run`` that may ask for other weights than the configured ones.
_WEIGHT_FLAGS = {"--model", "--gpu-layers", "--backend", "--help"}


def _start_loading_model(args: list[str]) -> None:
    """For ``agentlab run``, begin reading the configured model's weights before the command's
    modules import: each takes about a second, and they overlap. A guess from the arguments
    only; the engine uses what was read only if it asks for the same weights."""
    if args[:1] != ["run"] or any(arg.partition("=")[0] in _WEIGHT_FLAGS for arg in args):
        return
    from agentlab.config import load_settings
    from agentlab.errors import AgentlabError
    from agentlab.llm._preload import start_loading
    from agentlab.models import AUTO_MODEL, resolve_model

    try:
        settings = load_settings()
        if settings.backend is not None or settings.model == AUTO_MODEL:
            return
        path = resolve_model(settings.model, settings.model_dir)
    except AgentlabError:  # the command itself reports it
        return
    start_loading(path, settings)
