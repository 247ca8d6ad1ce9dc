"""agentlab's records in a Postgres database: one connection per store, one transaction at a
time, errors that name the database (never its password), and a new connection when the
server restarted since the last use."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from agentlab._db import POSTGRES, Rows, describe_url
from agentlab.errors import StoreError, UsageError

try:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict
except ImportError:  # the postgres extra is optional
    psycopg = None  # type: ignore[assignment]

__all__ = [
    "CONNECT_TIMEOUT_S",
    "PostgresDatabase",
    "connect",
    "connect_timeout_s",
    "problem",
    "reconnecting",
]

CONNECT_TIMEOUT_S = 10  # unless the URL sets connect_timeout
_RETRY_S = 0.5
_C = TypeVar("_C")
# Not "agentlab": a user named agentlab would find LangGraph's tables there too ("$user" leads
# the default search_path).
_SCHEMA = "agentlab_records"
_DDL_LOCK = 0x6167656E746C6162  # "agentlab": one process at a time creates the tables


def _require() -> None:
    if psycopg is None:
        raise UsageError(
            "AGENTLAB_DATABASE_URL names a Postgres database, which needs the postgres extra: "
            "pip install 'agentlab[postgres]'"
        )


def connect_timeout_s(url: str) -> int:
    """How long to wait for a server that does not answer: the URL's connect_timeout, or
    :data:`CONNECT_TIMEOUT_S` (libpq would wait for ever)."""
    _require()
    try:
        given = conninfo_to_dict(url).get("connect_timeout")
    except psycopg.ProgrammingError as exc:
        raise UsageError(f"invalid database URL {describe_url(url)}: {_one_line(exc)}") from None
    try:
        return int(str(given)) if given is not None else CONNECT_TIMEOUT_S
    except ValueError:
        raise UsageError(f"connect_timeout={given} in {describe_url(url)} is not a whole number "
                         "of seconds") from None  # fmt: skip


def connect(url: str, what: str, *, again: bool = False) -> psycopg.Connection[tuple[Any, ...]]:
    """A connection (autocommit: transactions are explicit) or a StoreError that says why not.

    ``again``: the server answered before, so it may be restarting; keep trying for the
    connect timeout instead of failing at the first refusal.
    """
    return reconnecting(lambda: psycopg.connect(url, autocommit=True,
                                                connect_timeout=connect_timeout_s(url)),
                        url, what, again=again)  # fmt: skip


def reconnecting(open_: Callable[[], _C], url: str, what: str, *, again: bool) -> _C:
    """``open_()``, tried again every half second for the connect timeout when ``again``."""
    deadline = time.monotonic() + (connect_timeout_s(url) if again else 0)
    while True:
        try:
            return open_()
        except psycopg.OperationalError as exc:
            if time.monotonic() + _RETRY_S > deadline:
                raise StoreError(problem(exc, url, what)) from None
        except psycopg.Error as exc:
            raise StoreError(problem(exc, url, what)) from None
        time.sleep(_RETRY_S)


def problem(exc: BaseException, url: str, what: str) -> str:
    """One line for a failure of ``what`` (e.g. "the checkpoints") in the database ``url``."""
    reason = _one_line(exc)
    if isinstance(exc, psycopg.OperationalError) or "couldn't get a connection" in reason:
        return (
            f"cannot reach the database {describe_url(url)} for {what} ({reason}); is the "
            "server running, and is AGENTLAB_DATABASE_URL right?"
        )
    return f"{what} in the database {describe_url(url)} cannot be used ({reason})"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class _Rows:
    """A connection whose SQL uses ``?`` placeholders, as the SQLite side does."""

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Any = (), /) -> Rows:
        return self._conn.execute(sql.replace("?", "%s"), parameters or None)


class PostgresDatabase:
    """A store's tables in schema ``agentlab_records`` of the Postgres database at ``url``.

    ``what`` names the store in errors. The tables of ``schema`` are created when missing,
    under a lock so processes starting together do not race. Safe to share between threads
    (one transaction at a time on the connection).
    """

    dialect = POSTGRES

    def __init__(self, url: str, schema: str, *, what: str) -> None:
        self.url = url
        self.what = what
        self._lock = threading.RLock()
        self._conn = self._connect()
        with self.transaction() as db:
            db.execute(f"SELECT pg_advisory_xact_lock({_DDL_LOCK})")
            for statement in filter(str.strip, schema.split(";")):
                db.execute(statement)

    def _connect(self, *, again: bool = False) -> psycopg.Connection[tuple[Any, ...]]:
        conn = connect(self.url, f"the {self.what}", again=again)
        try:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_SCHEMA}")
        except psycopg.errors.UniqueViolation:
            pass  # another process created it just now
        except psycopg.Error as exc:
            conn.close()
            raise StoreError(problem(exc, self.url, f"the {self.what}")) from None
        conn.execute(f"SET search_path TO {_SCHEMA}")
        return conn

    def _begin(self) -> psycopg.Connection[tuple[Any, ...]]:
        """BEGIN, on a new connection when the old one died since its last use (a server
        restart): nothing of the transaction ran yet, so trying again loses nothing."""
        try:
            self._conn.execute("BEGIN")
        except psycopg.OperationalError:  # BEGIN itself cannot fail but for the connection
            self._conn.close()
            self._conn = self._connect(again=True)
            self._conn.execute("BEGIN")
        return self._conn

    @contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[_Rows]:
        """The connection, in one transaction, with database errors turned into StoreError.

        ``immediate`` is SQLite's; a Postgres transaction waits for the rows it writes anyway.
        """
        with self._lock:
            try:
                conn = self._begin()
                try:
                    yield _Rows(conn)
                except BaseException:
                    with contextlib.suppress(psycopg.Error):
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except psycopg.Error as exc:
                raise StoreError(problem(exc, self.url, f"the {self.what}")) from None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
