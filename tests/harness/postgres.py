"""A real PostgreSQL for tests (shared harness).

Fixtures:
- ``postgres`` (session): a :class:`PostgresServer`. With ``FLINK_HOLOGRES_TEST_PG_DSN`` set
  (e.g. ``host=db port=5432 user=me password=… dbname=postgres``) that server is used, and its
  user must be allowed to create databases. Otherwise a throwaway server is started from
  Debian's binaries (``/usr/lib/postgresql/<v>/bin``): initdb/pg_ctl refuse root, so as root
  they run as the ``postgres`` user; it listens on 127.0.0.1 with scram-sha-256 password auth
  (so a wrong password is really rejected) and is stopped at the end of the session.
- ``pg_database`` (function): the name of a fresh, empty database owned by the test role,
  dropped after the test.

``server.connect(dbname)`` opens a connection as the test role (``admin=True``: as the
superuser, for setup that needs it, e.g. event triggers); ``server.user``/``server.password``
are what a provider under test should be configured with.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import psycopg2.extensions
import pytest
from psycopg2 import sql

from tests.harness import free_port, missing

DSN_ENV = "FLINK_HOLOGRES_TEST_PG_DSN"
TEST_ROLE = "flink_hologres_test"


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    admin_dsn: str
    log_file: Path | None = None  # the throwaway server's log; None for an external server

    def connect(self, dbname: str = "postgres", *, admin: bool = False) -> psycopg2.extensions.connection:
        if admin:
            dsn = psycopg2.extensions.make_dsn(self.admin_dsn, dbname=dbname, connect_timeout=10)
        else:
            dsn = psycopg2.extensions.make_dsn(
                host=self.host, port=self.port, user=self.user, password=self.password,
                dbname=dbname, connect_timeout=10,
            )
        return psycopg2.connect(dsn)

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        self._admin_statement(sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(name), sql.Identifier(self.user)))
        return name

    def drop_database(self, name: str) -> None:
        self._admin_statement(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin_statement(self, statement: sql.Composable) -> None:
        conn = self.connect(admin=True)
        try:
            conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
            with conn.cursor() as cur:
                cur.execute(statement)
        finally:
            conn.close()


def _external(dsn: str) -> PostgresServer:
    params = psycopg2.extensions.parse_dsn(dsn)
    return PostgresServer(
        host=params.get("host", "127.0.0.1"), port=int(params.get("port", 5432)),
        user=params["user"], password=params.get("password", ""), admin_dsn=dsn,
    )


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _as_postgres_user() -> list[str]:
    # initdb and pg_ctl refuse to run as root.
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        missing("runuser (to run PostgreSQL as the postgres user)")
    return ["runuser", "-u", "postgres", "--"]


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    dsn = os.environ.get(DSN_ENV)
    if dsn:
        yield _external(dsn)
        return
    bindir = _bindir()
    if bindir is None:
        missing("PostgreSQL")
    prefix = _as_postgres_user()
    base = Path(tempfile.mkdtemp(prefix="flink-hologres-pg-"))
    data, log_file = base / "data", base / "server.log"
    admin_password, role_password = secrets.token_hex(16), secrets.token_hex(16)
    (base / "pwfile").write_text(admin_password)
    if prefix:
        shutil.chown(base, user="postgres", group="postgres")
        shutil.chown(base / "pwfile", user="postgres", group="postgres")
    port = free_port()
    started = False
    try:
        _run(prefix + [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                       f"--pwfile={base / 'pwfile'}", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], "initdb")
        # Durability off: the data is throwaway and the tests should be fast.
        options = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={base} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        _run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log_file), "-w", "-t", "60",
                       "-o", options, "start"], "pg_ctl start")
        started = True
        admin_dsn = psycopg2.extensions.make_dsn(host="127.0.0.1", port=port, user="postgres",
                                                  password=admin_password, dbname="postgres")
        server = PostgresServer("127.0.0.1", port, TEST_ROLE, role_password, admin_dsn, log_file)
        conn = server.connect(admin=True)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD %s").format(sql.Identifier(TEST_ROLE)),
                            (role_password,))
        finally:
            conn.close()
        yield server
    finally:
        if started:
            subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True, timeout=60, check=False)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_database(postgres: PostgresServer) -> Iterator[str]:
    name = postgres.create_database()
    yield name
    postgres.drop_database(name)
