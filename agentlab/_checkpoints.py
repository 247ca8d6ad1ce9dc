"""The checkpointer the settings name: LangGraph's SQLite saver on a file under
``AGENTLAB_HOME`` (the embedded default), or its Postgres saver on ``settings.database_url``;
both also serve async runs (see ``agentlab._async_saver``)."""

from __future__ import annotations

import sqlite3
from contextlib import ExitStack, closing
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver

from agentlab._async_saver import ThreadedAsync
from agentlab.config import Settings

__all__ = ["open_checkpointer"]


class _SqliteSaver(ThreadedAsync, SqliteSaver):
    """LangGraph's SQLite saver, usable from ``ainvoke`` too."""


def open_checkpointer(settings: Settings, stack: ExitStack) -> BaseCheckpointSaver[Any]:
    """The settings' checkpointer, closed by ``stack``; a database that cannot be reached is a
    :class:`~agentlab.errors.StoreError` now, not in the middle of a run."""
    if settings.database_url is not None:
        from agentlab._postgres_saver import open_postgres_saver  # the optional extra

        return open_postgres_saver(settings.database_url, stack)
    settings.home.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(settings.checkpoint_path, check_same_thread=False)
    stack.enter_context(closing(connection))
    return _SqliteSaver(connection)
