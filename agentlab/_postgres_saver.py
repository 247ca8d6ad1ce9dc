"""LangGraph's ``PostgresSaver`` as agentlab uses it: on a pool that replaces connections a
server restart broke, with database errors as StoreErrors that name the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from agentlab._postgres import connect, connect_timeout_s, problem
from agentlab.errors import StoreError, UsageError

try:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import DictRow, dict_row
    from psycopg_pool import ConnectionPool
except ImportError:  # pragma: no cover - the postgres extra is optional
    raise UsageError(
        "AGENTLAB_DATABASE_URL names a Postgres database, which needs the postgres extra: "
        "pip install 'agentlab[postgres]'"
    ) from None

__all__ = ["open_postgres_saver"]

_SETUP_LOCK = 0x6167656E74636B70  # one process at a time creates or migrates the tables
_WHAT = "the checkpoints"


class _Saver(PostgresSaver):
    """Every database call of the saver goes through ``_cursor``: failures there become one
    clear StoreError (a run reports it as its error) instead of a driver traceback."""

    url: str

    @contextmanager
    def _cursor(self, *, pipeline: bool = False) -> Iterator[psycopg.Cursor[DictRow]]:
        try:
            with super()._cursor(pipeline=pipeline) as cursor:
                yield cursor
        except psycopg.Error as exc:
            raise StoreError(problem(exc, self.url, _WHAT)) from None


def open_postgres_saver(url: str, stack: ExitStack) -> PostgresSaver:
    """A saver on ``url`` with its tables set up, closed by ``stack``."""
    timeout = connect_timeout_s(url)
    with connect(url, _WHAT) as probe:  # a clear error now when the server does not answer
        pool: ConnectionPool[psycopg.Connection[DictRow]] = ConnectionPool(
            url,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row,
                    "connect_timeout": timeout},
            min_size=1, max_size=8, timeout=timeout, open=False,
            check=ConnectionPool.check_connection,  # a restarted server's dead connections
        )  # fmt: skip
        try:
            pool.open(wait=True, timeout=timeout)
        except psycopg.Error as exc:
            pool.close()
            raise StoreError(problem(exc, url, _WHAT)) from None
        stack.callback(pool.close)
        saver = _Saver(pool)
        saver.url = url
        probe.execute(f"SELECT pg_advisory_lock({_SETUP_LOCK})")  # released when probe closes
        saver.setup()
    return saver
