"""Postgres for the tests: a fresh database per test on the server named by
``AGENTLAB_TEST_DATABASE_URL`` (``make postgres`` prints one; ``.ci/run`` starts it), and private
servers for the tests that stop and restart theirs.

Without that variable the Postgres tests skip, except under CI (``CI=true``), where a missing
Postgres is a failure: a green CI must have run them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "postgres.sh"
TEST_URL = "AGENTLAB_TEST_DATABASE_URL"


def server_url() -> str:
    url = os.environ.get(TEST_URL)
    if url:
        return url
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"{TEST_URL} is not set: under CI the Postgres tests must run (.ci/run "
                    "starts make postgres)")  # fmt: skip
    pytest.skip(f"no Postgres: set {TEST_URL} to the URL make postgres prints")


def with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path=f"/{name}").geturl()


@pytest.fixture
def database_url() -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards."""
    import psycopg

    server = server_url()
    name = f"agentlab_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield with_database(server, name)
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> str | None:
    """Each store kind in turn: ``None`` (SQLite files under AGENTLAB_HOME) or a Postgres URL."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("database_url")
    return url


@dataclass
class PrivateServer:
    """A Postgres server of one test, which the test may stop and start."""

    folder: Path
    url: str

    def run(self, command: str) -> str:
        env = {**os.environ, "AGENTLAB_PG_DIR": str(self.folder)}
        done = subprocess.run([str(SCRIPT), command], capture_output=True, text=True,
                              timeout=120, env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""

    @property
    def env(self) -> dict[str, str]:
        """What a child process needs to run ``scripts/postgres.sh`` on this server."""
        return {"AGENTLAB_PG_DIR": str(self.folder), "PG_SCRIPT": str(SCRIPT)}


@pytest.fixture
def private_postgres() -> Iterator[PrivateServer]:
    server_url()  # the same rule: skipped without Postgres, failed under CI
    # Under /tmp, not pytest's tmp_path: the server runs as the postgres user, which must reach
    # its folder.
    folder = Path(tempfile.mkdtemp(prefix="agentlab-pg-"))
    server = PrivateServer(folder, "")
    try:
        server.url = server.run("start")
        yield server
    finally:
        subprocess.run([str(SCRIPT), "stop"], capture_output=True, timeout=120,
                       env={**os.environ, **server.env})  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)
