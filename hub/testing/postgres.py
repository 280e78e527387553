"""A real, throwaway PostgreSQL server for tests.

::

    with postgres_server() as url:      # postgresql+psycopg://hub@127.0.0.1:40123/hub
        fresh = create_database(url)    # an empty database of its own on the same server
        store = open_store(fresh)

Nothing is mocked: the machine's own ``initdb`` and ``postgres`` (the newest under
``/usr/lib/postgresql/*/bin``, else on ``PATH``) build a cluster in a temporary
directory and serve it on ``127.0.0.1`` and a free port until the block ends; then
the server is stopped and the directory removed. Durability is switched off
(``fsync=off``): a test database is thrown away anyway, and with it on every commit
and every ``CREATE DATABASE`` would wait for the disk.

PostgreSQL refuses to run as root, so under root (as in CI containers) the server
runs as the ``postgres`` user. Where PostgreSQL is missing the test is skipped, except
under CI (the ``CI`` variable set), where that is an error: CI must test PostgreSQL.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from sqlalchemy.engine import make_url

from hub.testing import in_ci

SUPERUSER = "hub"
DATABASE = "hub"
START_TIMEOUT = 60.0  # seconds; a cold start on a loaded CI machine takes a few
_SERVER_USER = "postgres"  # who runs the server when we are root
# Not UTC on purpose: code that assumes the database speaks UTC fails here, not in production.
_SERVER_TIMEZONE = "Asia/Yekaterinburg"
_PORT_ATTEMPTS = 3


class PostgresUnavailable(RuntimeError):
    """This machine cannot run a PostgreSQL server for tests."""


@dataclass(frozen=True)
class Binaries:
    """The PostgreSQL programs a test server needs."""

    initdb: Path
    pg_ctl: Path
    postgres: Path


def find_binaries() -> Binaries | None:
    """The newest Debian-style install under /usr/lib/postgresql, else the one on PATH, else None."""
    def version(bindir: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in bindir.parent.name.split(".") if part.isdigit())

    for bindir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True):
        found = Binaries(bindir / "initdb", bindir / "pg_ctl", bindir / "postgres")
        if all(os.access(p, os.X_OK) for p in (found.initdb, found.pg_ctl, found.postgres)):
            return found
    on_path = [shutil.which(name) for name in ("initdb", "pg_ctl", "postgres")]
    if None in on_path:
        return None
    initdb, pg_ctl, postgres = (Path(p) for p in on_path if p is not None)
    return Binaries(initdb, pg_ctl, postgres)


@contextmanager
def postgres_server() -> Iterator[str]:
    """Run a fresh PostgreSQL server for the block; yields the SQLAlchemy URL of its database ``hub``."""
    binaries = find_binaries()
    if binaries is None:
        _unavailable("PostgreSQL server programs (initdb, pg_ctl, postgres) are not installed: "
                     "install them, e.g. apt-get install postgresql")
    run_as = _server_user()
    root = Path(tempfile.mkdtemp(prefix="hub-pg-"))
    data = root / "data"
    try:
        if "user" in run_as:
            os.chown(root, run_as["user"], run_as["group"])
        _run([str(binaries.initdb), "--pgdata", str(data), "--username", SUPERUSER, "--auth", "trust",
              "--encoding", "UTF8", "--locale", "C", "--no-sync"], root, run_as)
        server, port = _start(binaries, root, run_as)
        try:
            url = f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/postgres"
            yield create_database(url, DATABASE)
        finally:
            _stop(binaries, data, server, root, run_as)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def create_database(url: str, name: str | None = None) -> str:
    """Create an empty database on the server at ``url``; returns its URL. Gives each test a clean slate."""
    name = name or f"test_{uuid.uuid4().hex[:16]}"
    with _connect(url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _connect(url: str, *, timeout: int = 10) -> psycopg.Connection[Any]:
    parsed = make_url(url)
    conninfo = make_conninfo("", host=parsed.host, port=parsed.port, user=parsed.username,
                             password=parsed.password, dbname=parsed.database, connect_timeout=timeout)
    return psycopg.connect(conninfo, autocommit=True)  # CREATE DATABASE cannot run inside a transaction


def _unavailable(reason: str) -> NoReturn:
    if in_ci():
        raise PostgresUnavailable(f"{reason}; CI must run the PostgreSQL tests, so this is an error there")
    pytest.skip(f"no PostgreSQL for tests: {reason}")


def _server_user() -> dict[str, Any]:
    """subprocess keyword arguments that run a program as the server's user (only needed when root)."""
    if os.geteuid() != 0:
        return {}
    try:
        user = pwd.getpwnam(_SERVER_USER)
    except KeyError:
        _unavailable(f"running as root, and PostgreSQL refuses root, but there is no {_SERVER_USER!r} "
                     "user to run it as")
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _run(command: list[str], cwd: Path, run_as: dict[str, Any]) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, **run_as)
    if done.returncode != 0:
        raise PostgresUnavailable(f"{Path(command[0]).name} failed ({done.returncode}):\n"
                                  f"{done.stdout}{done.stderr}")


def _start(binaries: Binaries, root: Path, run_as: dict[str, Any]) -> tuple[subprocess.Popen[bytes], int]:
    """Start the server and wait until it takes connections; retries when another process took the port."""
    log_path = root / "server.log"
    for _ in range(_PORT_ATTEMPTS):
        port = _free_port()
        with log_path.open("wb") as log:  # one log per try: the check below must see only its own
            server = subprocess.Popen(
                [str(binaries.postgres), "-D", str(root / "data"),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"port={port}",
                 "-c", f"unix_socket_directories={root}",
                 "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                 "-c", f"timezone={_SERVER_TIMEZONE}"],
                cwd=root, stdout=log, stderr=subprocess.STDOUT, **run_as)
        if _wait_ready(server, port):
            return server, port
        log_text = log_path.read_text(errors="replace")
        if "already in use" not in log_text:
            raise PostgresUnavailable(f"the PostgreSQL test server did not start:\n{log_text[-4000:]}")
    raise PostgresUnavailable(f"no free port for the PostgreSQL test server after {_PORT_ATTEMPTS} tries")


def _free_port() -> int:
    # The port is free when we look; the server binds it a moment later, and _start
    # tries another one in the rare case that someone else got there first.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(server: subprocess.Popen[bytes], port: int) -> bool:
    """True once the server takes connections; False if it exited. Raises when it takes too long."""
    url = f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            with _connect(url, timeout=2):
                return True
        except psycopg.OperationalError:
            time.sleep(0.05)  # poll interval while the server is starting up
    server.kill()
    server.wait()
    raise PostgresUnavailable(f"the PostgreSQL test server took over {START_TIMEOUT:.0f}s to start")


def _stop(binaries: Binaries, data: Path, server: subprocess.Popen[bytes], cwd: Path,
          run_as: dict[str, Any]) -> None:
    # Immediate mode skips the shutdown checkpoint: the data is about to be deleted anyway.
    subprocess.run([str(binaries.pg_ctl), "stop", "--pgdata", str(data), "--mode", "immediate", "--wait"],
                   cwd=cwd, capture_output=True, check=False, **run_as)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
