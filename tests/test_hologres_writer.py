"""HologresWriter's provider through pulumi's own provider host, in the engine's order, against a real
PostgreSQL: the job's login can upsert into its table and do nothing else; rename, rotation and destroy."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import psycopg2
import psycopg2.errors
import pytest
from psycopg2 import sql
from pulumi.runtime import rpc

from components import hologres_ddl as ddl
from components.hologres_table import HologresTableProvider, identity_of
from components.hologres_writer import HologresWriterProvider, login_name, simple_permission_model_error
from tests.harness.engine import Engine, Registration, State
from tests.harness.hologres_tables import table_inputs as declared_table
from tests.harness.postgres import PostgresServer
from tests.harness.program import plaintext_occurrences
from tests.harness.provider_host import UNKNOWN, CheckFailed, ProviderError, ProviderHost, resource_inputs

pytestmark = pytest.mark.postgres
USER_KEY, PASSWORD_KEY = "flink-hologres:hologresUser", "flink-hologres:hologresPassword"
SENTINEL = "S3NT1NEL-writer-password-4f1d9a"
ROTATED = "S3NT1NEL-rotated-password-77b2c0"


@pytest.fixture
def engine(provider_host: ProviderHost, postgres: PostgresServer) -> Engine:
    # Creating logins takes the instance's superuser on Hologres; the server's superuser here.
    admin = psycopg2.extensions.parse_dsn(postgres.admin_dsn)
    return Engine(provider_host, config={USER_KEY: admin["user"], PASSWORD_KEY: admin["password"]},
                  secret_keys=(PASSWORD_KEY,))


@pytest.fixture
def login(postgres: PostgresServer) -> Iterator[str]:
    """A unique login name (roles are server-wide), dropped afterwards if a test left it behind."""
    names = [f"writer_{uuid.uuid4().hex[:10]}"]
    yield names[0]
    conn = postgres.connect(admin=True)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s OR rolname LIKE %s",
                        (names[0] + "%", "BASIC$" + names[0] + "%"))
            for (role,) in cur.fetchall():
                for (database,) in _databases(cur):
                    _drop_owned(postgres, database, role)
                cur.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
    finally:
        conn.close()


def _databases(cur: Any) -> list[tuple[str]]:
    cur.execute("SELECT datname FROM pg_database WHERE datname LIKE 't\\_%'")
    return cur.fetchall()


def _drop_owned(postgres: PostgresServer, database: str, role: str) -> None:
    conn = postgres.connect(database, admin=True)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
    finally:
        conn.close()


def table_inputs(postgres: PostgresServer, database: str, name: str = "order_details") -> dict[str, Any]:
    spec = ddl.DEFAULT_ORDER_DETAILS.with_name(f"public.{name}")
    return resource_inputs(HologresTableProvider(), {"host": postgres.host, "port": postgres.port,
                                                     "database": database, "sslmode": "prefer",
                                                     **ddl.spec_to_props(spec)})


def writer_inputs(postgres: PostgresServer, database: str, login: str, password: str = SENTINEL,
                  table: str = "order_details", **extra: Any) -> dict[str, Any]:
    # The program's input is a secret Output: the engine sends it to the provider wrapped as a secret.
    return resource_inputs(HologresWriterProvider(), {
        "host": postgres.host, "port": postgres.port, "database": database, "connectTimeout": 5,
        "sslmode": "disable",  # the test server has no TLS
        "schemaName": "public", "tableName": table, "login": login, "password": rpc.wrap_rpc_secret(password),
        **extra})


def as_writer(postgres: PostgresServer, database: str, user: str, password: str) -> psycopg2.extensions.connection:
    return psycopg2.connect(host=postgres.host, port=postgres.port, dbname=database, user=user, password=password,
                            connect_timeout=5)


def run(conn: psycopg2.extensions.connection, statement: str) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(statement)
        rows = cur.fetchall() if cur.description else []
    conn.commit()
    return rows


UPSERT = ("INSERT INTO public.{table} (user_id, item_id, price, sale_timestamp) VALUES (1, 7, {price}, now()) "
          "ON CONFLICT (user_id, item_id) DO UPDATE SET price = EXCLUDED.price")


def admin_query(postgres: PostgresServer, database: str, statement: str) -> list[tuple]:
    conn = postgres.connect(database, admin=True)
    try:
        return run(conn, statement)
    finally:
        conn.close()


def test_the_writer_upserts_into_its_table_and_can_do_nothing_else(
        engine: Engine, postgres: PostgresServer, pg_database: str, login: str) -> None:
    engine.up("table", table_inputs(postgres, pg_database))
    admin_query(postgres, pg_database, "CREATE TABLE public.other (secret text); INSERT INTO public.other VALUES ('x')")
    state = engine.up("writer", writer_inputs(postgres, pg_database, login))

    assert engine.last_calls == ["check", "create"]
    assert state.id == state.outputs["loginName"] == login == login_name(login, hologres=False)
    assert state.outputs["privileges"] == ["USAGE ON SCHEMA public", "SELECT ON public.order_details",
                                           "INSERT ON public.order_details", "UPDATE ON public.order_details"]
    conn = as_writer(postgres, pg_database, login, SENTINEL)
    try:
        run(conn, UPSERT.format(table="order_details", price="1.00"))
        run(conn, UPSERT.format(table="order_details", price="2.50"))  # the conflict path: an update
        assert run(conn, "SELECT user_id, item_id, price::text FROM public.order_details") == [(1, 7, "2.50")]
        for refused in ("CREATE TABLE public.mine (a int)", "DROP TABLE public.order_details",
                        "ALTER TABLE public.order_details ADD COLUMN coupon text", "SELECT * FROM public.other",
                        "DELETE FROM public.order_details", "TRUNCATE public.order_details",
                        "CREATE ROLE sneaky LOGIN", "CREATE SCHEMA mine"):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                run(conn, refused)
            conn.rollback()
    finally:
        conn.close()
    # Outputs as the engine stores them: the password only ever inside a secret marker.
    assert rpc.is_rpc_secret(state.outputs["password"])
    for where in (state.outputs, state.inputs):
        assert list(plaintext_occurrences(where, SENTINEL)) == []
    assert SENTINEL not in engine.host.output()
    # Only a SCRAM verifier reached the server: its log cannot show the password.
    assert postgres.log_file is None or SENTINEL not in postgres.log_file.read_text(errors="replace")

    again = engine.up("writer", writer_inputs(postgres, pg_database, login))
    assert engine.last_calls == ["check", "diff"] and again.outputs == state.outputs
    refreshed = engine.refresh("writer")
    assert refreshed.state is not None and not refreshed.drift


def test_a_new_table_and_a_rotated_password_are_updates(engine: Engine, postgres: PostgresServer,
                                                        pg_database: str, login: str) -> None:
    engine.up("table", table_inputs(postgres, pg_database))
    admin_query(postgres, pg_database, "CREATE TABLE public.orders_v2 (LIKE public.order_details INCLUDING ALL)")
    engine.up("writer", writer_inputs(postgres, pg_database, login))

    moved = engine.up("writer", writer_inputs(postgres, pg_database, login, ROTATED, table="orders_v2"))

    assert engine.last_calls == ["check", "diff", "update"]
    assert moved.outputs["privileges"] == ["USAGE ON SCHEMA public", "SELECT ON public.orders_v2",
                                           "INSERT ON public.orders_v2", "UPDATE ON public.orders_v2"]
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        as_writer(postgres, pg_database, login, SENTINEL)
    conn = as_writer(postgres, pg_database, login, ROTATED)
    try:
        run(conn, UPSERT.format(table="orders_v2", price="3.00"))
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):  # the old table's grants are gone
            run(conn, UPSERT.format(table="order_details", price="3.00"))
    finally:
        conn.close()
    assert list(plaintext_occurrences(moved.outputs, ROTATED)) == []


def test_destroy_drops_the_login_and_keeps_the_table_and_its_rows(engine: Engine, postgres: PostgresServer,
                                                                  pg_database: str, login: str) -> None:
    engine.up("table", table_inputs(postgres, pg_database))
    engine.up("writer", writer_inputs(postgres, pg_database, login))
    conn = as_writer(postgres, pg_database, login, SENTINEL)
    try:
        run(conn, UPSERT.format(table="order_details", price="1.00"))
    finally:
        conn.close()

    engine.destroy("writer")

    assert admin_query(postgres, pg_database, f"SELECT count(*) FROM pg_roles WHERE rolname = '{login}'") == [(0,)]
    assert admin_query(postgres, pg_database, "SELECT count(*) FROM public.order_details") == [(1,)]
    with pytest.raises(psycopg2.OperationalError):
        as_writer(postgres, pg_database, login, SENTINEL)
    assert "dropped the writer login" in engine.host.output()


def test_a_new_login_name_replaces_the_login(engine: Engine, postgres: PostgresServer, pg_database: str,
                                             login: str) -> None:
    engine.up("table", table_inputs(postgres, pg_database))
    engine.up("writer", writer_inputs(postgres, pg_database, login))

    renamed = engine.up("writer", writer_inputs(postgres, pg_database, f"{login}_b"))

    assert engine.last_calls == ["check", "diff", "check", "create", "delete"]  # new first, old dropped last
    assert renamed.id == f"{login}_b"
    roles = admin_query(postgres, pg_database, f"SELECT rolname FROM pg_roles WHERE rolname LIKE '{login}%'")
    assert roles == [(f"{login}_b",)]


def test_bad_inputs_and_a_taken_name_fail_in_one_line_without_the_password(
        engine: Engine, postgres: PostgresServer, pg_database: str, login: str) -> None:
    engine.up("table", table_inputs(postgres, pg_database))
    with pytest.raises(CheckFailed) as short:
        engine.up("writer", writer_inputs(postgres, pg_database, login, password="short"))
    assert short.value.failures == [("password", "must be a generated string of at least 16 characters")]

    admin_query(postgres, pg_database, f'CREATE ROLE "{login}"')
    with pytest.raises(ProviderError) as taken:
        engine.up("writer", writer_inputs(postgres, pg_database, login))
    assert taken.value.last_line.endswith(
        f"a role '{login}' already exists on this server; set hologresWriterLogin to an unused name, e.g. "
        f"`pulumi config set hologresWriterLogin {login}_2`, or drop it: DROP ROLE \"{login}\"")
    assert SENTINEL not in taken.value.details and SENTINEL not in engine.host.output()
    assert engine.state("writer") is None  # nothing in the snapshot, nothing half-made
    assert admin_query(postgres, pg_database, "SELECT count(*) FROM information_schema.table_privileges "
                                              f"WHERE grantee = '{login}'") == [(0,)]


def test_the_simple_permission_models_say_how_to_proceed() -> None:
    message = simple_permission_model_error("spm", "orders_db", "flink_writer")
    assert "nothing was created" in message
    assert "CALL spm_disable();" in message
    assert "CALL spm_grant('orders_db_writer', 'BASIC$flink_writer');" in message
    assert login_name("flink_writer", hologres=True) == "BASIC$flink_writer"
    assert "CALL slpm_disable();" in simple_permission_model_error("slpm", "orders_db", "w")


def test_on_hologres_the_login_is_a_basic_custom_account(engine: Engine, postgres: PostgresServer,
                                                        pg_database: str, login: str) -> None:
    # hg_version() is how the provider tells Hologres from PostgreSQL (emulated in this database).
    admin_query(postgres, pg_database, "CREATE FUNCTION public.hg_version() RETURNS text LANGUAGE sql AS "
                                       "$$ SELECT 'Hologres 3.0.12 (emulated)' $$; "
                                       "CREATE TABLE public.order_details (user_id bigint PRIMARY KEY, price numeric)")
    state = engine.up("writer", writer_inputs(postgres, pg_database, login))

    account = f"BASIC${login}"
    assert state.id == state.outputs["loginName"] == account
    assert state.outputs["hologresVersion"] == "Hologres 3.0.12 (emulated)"
    conn = as_writer(postgres, pg_database, account, SENTINEL)
    try:
        run(conn, "INSERT INTO public.order_details VALUES (1, 1) ON CONFLICT (user_id) DO UPDATE SET price = 2")
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            run(conn, "DELETE FROM public.order_details")
    finally:
        conn.close()
    engine.destroy("writer")
    assert admin_query(postgres, pg_database, f"SELECT count(*) FROM pg_roles WHERE rolname = '{account}'") == [(0,)]


@pytest.mark.parametrize("wired", [False, True], ids=["defect-without-identity", "with-identity"])
def test_a_rebuilt_table_is_granted_to_the_writer_again(engine: Engine, postgres: PostgresServer,
                                                        pg_database: str, login: str, wired: bool) -> None:
    """Defect: a delete-first table rebuild (DROP + CREATE under the same name) drops the table's grants,
    and the writer's inputs (schema and table name) do not change, so nothing granted them again. With
    the table's identity as an input (a property dependency on the table), the engine asks the writer's
    diff with it unknown during the replacement (an update: the writer is kept), then updates it after
    the new table exists: granted again, same login, same password."""
    spec = ddl.DEFAULT_ORDER_DETAILS
    rebuilt = dataclasses.replace(spec, columns=tuple(
        dataclasses.replace(c, type="NUMERIC(38,4)") if c.name == "price" else c for c in spec.columns))

    def writer(snapshot: Mapping[str, State]) -> dict[str, Any]:
        out = snapshot["table"].outputs
        identity = {"tableIdentity": identity_of(out[ddl.SCHEMA], out[ddl.TABLE], out["generation"])}
        return writer_inputs(postgres, pg_database, login, **(identity if wired else {}))

    def program(declared: ddl.TableSpec) -> list[Registration]:
        return [Registration("table", declared_table(postgres, pg_database, declared, dropTableOnDestroy=True)),
                Registration("writer", writer, {"tableIdentity": ["table"]} if wired else {})]

    engine.up_program(program(spec))
    before, old_table = engine.state("writer"), engine.state("table")
    assert before is not None and old_table is not None
    conn = as_writer(postgres, pg_database, login, SENTINEL)
    try:
        run(conn, UPSERT.format(table="order_details", price="1.00"))
    finally:
        conn.close()

    first = len(engine.calls)
    after = engine.up_program(program(rebuilt))
    calls = engine.calls[first:]

    assert after["table"].outputs["generation"] != old_table.outputs["generation"]  # a new table
    conn = as_writer(postgres, pg_database, login, SENTINEL)  # the same password still logs in
    try:
        if not wired:
            # The old wiring: the writer's diff finds nothing, no grant runs, the job cannot write.
            assert ("writer", "update") not in calls
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                run(conn, UPSERT.format(table="order_details", price="2.00"))
            return
        # The writer is asked during the replacement (identity unknown): an update, so it is not deleted;
        # it is updated after the new table was created.
        assert calls == [("table", "check"), ("table", "diff"), ("table", "check"), ("writer", "diff"),
                         ("table", "delete"), ("table", "create"), ("writer", "check"), ("writer", "diff"),
                         ("writer", "update")]
        run(conn, UPSERT.format(table="order_details", price="2.00"))
        assert run(conn, "SELECT price::text FROM public.order_details") == [("2.0000",)]
    finally:
        conn.close()
    assert after["writer"].id == before.id and after["writer"].outputs["privileges"] == before.outputs["privileges"]
    assert after["writer"].outputs["password"] == before.outputs["password"]  # no new password, no new Secret
    assert rpc.is_rpc_secret(after["writer"].outputs["password"])


def test_the_table_identity_is_an_update_never_a_replace(engine: Engine, postgres: PostgresServer,
                                                         pg_database: str, login: str) -> None:
    """The writer's diff through the provider host (no database call): a first identity (a stack from
    before it), a new one and an unknown one (preview, or the engine's dependent-replacement question)
    are updates; the same one is no change."""
    olds = {k: v for k, v in writer_inputs(postgres, pg_database, login).items() if k != "password"}
    for old, new in ((None, "public.t@a"), ("public.t@a", "public.t@b"), ("public.t@a", UNKNOWN)):
        recorded = {**olds, "tableIdentity": old} if old else olds
        result = engine.host.diff(login, recorded, {**olds, "tableIdentity": new}, "writer", old_inputs=recorded)
        assert (result.changes, result.replaces) == ("some", []), (old, new)
    same = {**olds, "tableIdentity": "public.t@a"}
    assert engine.host.diff(login, same, same, "writer", old_inputs=same).changes == "none"
