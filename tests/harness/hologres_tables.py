"""Helpers for the HologresTable provider's tests: inputs, direct SQL, and TLS on the test server.

``tls_on(postgres)`` turns SSL on in the running test server for the duration of a ``with`` block,
with a self-signed certificate made by ``openssl`` for 127.0.0.1 (returned, for verify-full), and
turns it off again: the server is the same real PostgreSQL, once with TLS and once without.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from psycopg2 import sql

from components import hologres_ddl as ddl
from components.hologres_table import HologresTableProvider
from tests.harness import missing
from tests.harness.engine import Engine
from tests.harness.postgres import PostgresServer
from tests.harness.provider_host import ProviderHost, resource_inputs

TYPE = "pulumi-python:dynamic/hologres:Table"
USER_KEY, PASSWORD_KEY = "flink-hologres:hologresUser", "flink-hologres:hologresPassword"


def credentials(user: str, password: str) -> dict[str, str]:
    return {USER_KEY: user, PASSWORD_KEY: password}


def engine_as(host: ProviderHost, user: str, password: str) -> Engine:
    """The engine-order driver, the provider configured with these credentials (the password secret,
    as the engine sends secret config)."""
    host.type_token = TYPE
    return Engine(host, credentials(user, password), secret_keys=(PASSWORD_KEY,))


def table_inputs(postgres: PostgresServer, database: str, spec: ddl.TableSpec = ddl.DEFAULT_ORDER_DETAILS,
                 **connection: Any) -> dict[str, Any]:
    """What HologresTable sends; sslmode prefer by default, since the test server runs without TLS."""
    props = {"host": postgres.host, "port": postgres.port, "database": database, "connectTimeout": 5,
             "sslmode": "prefer", **ddl.spec_to_props(spec), **connection}
    return resource_inputs(HologresTableProvider(), props)


def query(postgres: PostgresServer, database: str, statement: str | sql.Composable, *params: Any) -> list[tuple]:
    conn = postgres.connect(database)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(statement, params or None)  # no parameters: a literal % stays a %
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def live_columns(postgres: PostgresServer, database: str, table: str = "order_details") -> list[tuple]:
    return query(postgres, database, """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a
        WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum""",
                 f'public."{table}"')


def catalog(postgres: PostgresServer, database: str, table: str) -> dict[str, str]:
    """hologres.hg_table_properties of one table, as Hologres (here: the emulation) reports it."""
    return dict(query(postgres, database, "SELECT property_key, property_value FROM hologres.hg_table_properties "
                                          "WHERE table_namespace = 'public' AND table_name = %s", table))


def insert_order(postgres: PostgresServer, database: str, user_id: int = 1) -> None:
    query(postgres, database, "INSERT INTO public.order_details (user_id, item_id, price, sale_timestamp) "
                              "VALUES (%s, 7, 12.34, now())", user_id)


def count_orders(postgres: PostgresServer, database: str) -> int:
    return query(postgres, database, "SELECT count(*) FROM public.order_details")[0][0]


def table_exists(postgres: PostgresServer, database: str, table: str = "order_details") -> bool:
    return query(postgres, database, "SELECT to_regclass(%s) IS NOT NULL", f'public."{table}"')[0][0]


def with_columns(spec: ddl.TableSpec, *columns: ddl.Column) -> ddl.TableSpec:
    return ddl.TableSpec(spec.schema, spec.name, (*spec.columns, *columns), spec.primary_key, spec.properties)


def retyped(spec: ddl.TableSpec, column: str, type_: str) -> ddl.TableSpec:
    columns = tuple(ddl.Column(c.name, type_ if c.name == column else c.type, c.nullable) for c in spec.columns)
    return ddl.TableSpec(spec.schema, spec.name, columns, spec.primary_key, spec.properties)


def _admin(postgres: PostgresServer, statements: list[str | sql.Composable]) -> None:
    conn = postgres.connect(admin=True)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


@contextmanager
def tls_on(postgres: PostgresServer) -> Iterator[Path]:
    """SSL on in the test server (self-signed for 127.0.0.1); yields the certificate (the CA to trust)."""
    if shutil.which("openssl") is None:
        missing("openssl (to make the test server's certificate)")
    if postgres.log_file is None:
        missing("a throwaway PostgreSQL (TLS is switched on and off in it)")
    base = Path(tempfile.mkdtemp(prefix="flink-hologres-tls-"))
    cert, key = base / "server.crt", base / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    key.chmod(0o600)
    if os.geteuid() == 0:  # the server runs as postgres and insists on owning its key
        for path in (base, cert, key):
            shutil.chown(path, user="postgres", group="postgres")
    _admin(postgres, [sql.SQL("ALTER SYSTEM SET ssl_cert_file = {}").format(sql.Literal(str(cert))),
                      sql.SQL("ALTER SYSTEM SET ssl_key_file = {}").format(sql.Literal(str(key))),
                      "ALTER SYSTEM SET ssl = on", "SELECT pg_reload_conf()"])
    try:
        yield cert
    finally:
        _admin(postgres, ["ALTER SYSTEM RESET ssl", "ALTER SYSTEM RESET ssl_cert_file",
                          "ALTER SYSTEM RESET ssl_key_file", "SELECT pg_reload_conf()"])
        shutil.rmtree(base, ignore_errors=True)
