"""LangGraph's ``PostgresSaver`` as agentlab uses it: its connection replaced when a server
restart broke it, database errors as StoreErrors that name the database, and async runs served
(see ``agentlab._async_saver``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from agentlab._async_saver import ThreadedAsync
from agentlab._postgres import connect, connect_timeout_s, problem, reconnecting
from agentlab.errors import StoreError, UsageError

try:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import DictRow, dict_row
except ImportError:  # pragma: no cover - the postgres extra is optional
    raise UsageError(
        "AGENTLAB_DATABASE_URL names a Postgres database, which needs the postgres extra: "
        "pip install 'agentlab[postgres]'"
    ) from None

__all__ = ["open_postgres_saver"]

_SETUP_LOCK = 0x6167656E74636B70  # one process at a time creates or migrates the tables
_WHAT = "the checkpoints"


def _connect(url: str, *, again: bool = False) -> psycopg.Connection[DictRow]:
    """A connection as ``PostgresSaver.from_conn_string`` makes one, with a bounded wait."""
    return reconnecting(
        lambda: psycopg.Connection.connect(
            url, autocommit=True, prepare_threshold=0, row_factory=dict_row,
            connect_timeout=connect_timeout_s(url),
        ),
        url, _WHAT, again=again,
    )  # fmt: skip


class _Saver(ThreadedAsync, PostgresSaver):
    """Every database call of the saver goes through ``_cursor``, one at a time (the saver
    serialises them on its lock anyway). There a connection that a server restart broke is
    replaced first (nothing of the call ran yet, so nothing is lost), and failures become one
    clear StoreError, which a run reports as its error, instead of a driver traceback."""

    def __init__(self, url: str) -> None:
        super().__init__(_connect(url))
        self.url = url
        self.lock = threading.RLock()  # type: ignore[assignment]  # taken again by super()

    def _alive(self) -> None:
        conn = self.conn
        assert isinstance(conn, psycopg.Connection)  # never a pool here
        try:
            conn.execute("")  # one round trip, as psycopg_pool checks a connection
        except psycopg.OperationalError:
            conn.close()
            self.conn = _connect(self.url, again=True)

    @contextmanager
    def _cursor(self, *, pipeline: bool = False) -> Iterator[psycopg.Cursor[DictRow]]:
        try:
            with self.lock:
                self._alive()
                with super()._cursor(pipeline=pipeline) as cursor:
                    yield cursor
        except psycopg.Error as exc:
            raise StoreError(problem(exc, self.url, _WHAT)) from None

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def open_postgres_saver(url: str, stack: ExitStack) -> PostgresSaver:
    """A saver on ``url`` with its tables set up, closed by ``stack``; a server that cannot be
    reached is a StoreError now."""
    saver = _Saver(url)
    stack.callback(saver.close)
    with connect(url, _WHAT) as lock:  # a session lock, released when it closes
        lock.execute(f"SELECT pg_advisory_lock({_SETUP_LOCK})")
        saver.setup()
    return saver
