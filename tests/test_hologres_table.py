"""HologresTable's provider, run by Pulumi's own provider host over gRPC against a real PostgreSQL.

Every test drives the engine's calls (Configure → Check → Diff → Create / Update / Read / Delete)
through ``python -m pulumi.dynamic``; the database is inspected directly with psycopg2.
The Hologres branch runs against a Hologres emulation created in the test database.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg2
import pulumi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg2 import sql
from pulumi.output import Unknown
from pulumi.runtime import rpc

from components import hologres_ddl as ddl
from components.hologres_table import HologresTable, HologresTableArgs, HologresTableProvider
from tests.harness import free_port, missing
from tests.harness.postgres import PostgresServer
from tests.harness.provider_host import (
    UNKNOWN,
    CheckFailed,
    ProviderError,
    ProviderHost,
    ResourceState,
    engine_destroy,
    engine_refresh,
    engine_up,
    resource_inputs,
)

pytestmark = pytest.mark.postgres
TYPE = "pulumi-python:dynamic/hologres:Table"
USER_KEY, PASSWORD_KEY = "flink-hologres:hologresUser", "flink-hologres:hologresPassword"


@pytest.fixture
def host(provider_host: ProviderHost, postgres: PostgresServer) -> ProviderHost:
    provider_host.type_token = TYPE
    # Secret config reaches a provider wrapped as a secret; configure() must unwrap it.
    provider_host.configure({USER_KEY: postgres.user, PASSWORD_KEY: postgres.password}, secret_keys=(PASSWORD_KEY,))
    return provider_host


def table_inputs(postgres: PostgresServer, database: str, spec: ddl.TableSpec = ddl.DEFAULT_ORDER_DETAILS,
                 **connection: Any) -> dict[str, Any]:
    props = {"host": postgres.host, "port": postgres.port, "database": database, "connectTimeout": 5,
             **ddl.spec_to_props(spec), **connection}
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


def insert_order(postgres: PostgresServer, database: str, user_id: int = 1) -> None:
    query(postgres, database, "INSERT INTO public.order_details (user_id, item_id, price, sale_timestamp) "
                              "VALUES (%s, 7, 12.34, now())", user_id)


def count_orders(postgres: PostgresServer, database: str) -> int:
    return query(postgres, database, "SELECT count(*) FROM public.order_details")[0][0]


def with_columns(spec: ddl.TableSpec, *columns: ddl.Column) -> ddl.TableSpec:
    return ddl.TableSpec(spec.schema, spec.name, (*spec.columns, *columns), spec.primary_key, spec.properties)


def retyped(spec: ddl.TableSpec, column: str, type_: str) -> ddl.TableSpec:
    columns = tuple(ddl.Column(c.name, type_ if c.name == column else c.type, c.nullable) for c in spec.columns)
    return ddl.TableSpec(spec.schema, spec.name, columns, spec.primary_key, spec.properties)


# --- the tutorial table on plain PostgreSQL ------------------------------------------------------------


def test_creates_the_tutorial_table_and_reads_it_back(host: ProviderHost, postgres: PostgresServer,
                                                      pg_database: str) -> None:
    state = engine_up(host, "orders", table_inputs(postgres, pg_database))

    assert state.id == "public.order_details"
    assert live_columns(postgres, pg_database) == [
        ("user_id", "bigint", True), ("user_name", "text", False), ("item_id", "bigint", True),
        ("item_name", "text", False), ("price", "numeric(38,2)", False), ("province", "text", False),
        ("city", "text", False), ("longitude", "text", False), ("latitude", "text", False), ("ip", "text", False),
        ("sale_timestamp", "timestamp with time zone", True)]
    assert query(postgres, pg_database, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'p' "
                                        "AND conrelid = 'public.order_details'::regclass") == [
        ("PRIMARY KEY (user_id, item_id)",)]
    outputs = state.outputs
    assert outputs["qualifiedName"] == "public.order_details"
    assert outputs["primaryKey"] == ["user_id", "item_id"]
    assert outputs["hologresVersion"] == ""
    # Plain PostgreSQL cannot hold the Hologres properties: said so, not silently dropped.
    assert outputs["unappliedProperties"] == ["event_time_column"]
    assert outputs["properties"] == {"event_time_column": ["sale_timestamp"]}
    assert outputs["adopted"] is False and outputs["onDestroy"] == "keep the table and its data"
    # The password is not an input and never an output.
    assert postgres.password not in json.dumps(state.outputs) + json.dumps(state.inputs)

    refreshed = engine_refresh(host, state)
    assert refreshed is not None and refreshed.outputs == state.outputs
    again = engine_up(host, "orders", table_inputs(postgres, pg_database), refreshed)
    assert again.steps == ["check", "diff"]  # nothing to do


def test_refresh_shows_drift_and_a_vanished_table(host: ProviderHost, postgres: PostgresServer,
                                                  pg_database: str) -> None:
    inputs = table_inputs(postgres, pg_database)
    state = engine_up(host, "orders", inputs)
    query(postgres, pg_database, "ALTER TABLE public.order_details ADD COLUMN coupon text")

    drifted = engine_refresh(host, state)
    assert drifted is not None
    assert drifted.outputs["columns"][-1] == {"name": "coupon", "type": "text", "nullable": True}
    # Converging would drop a column, i.e. a new table: refused while it may hold data.
    with pytest.raises(ProviderError) as refused:
        engine_up(host, "orders", inputs, drifted)
    assert "refusing to replace table public.order_details: column 'coupon': text → absent" in refused.value.last_line

    query(postgres, pg_database, "DROP TABLE public.order_details")
    assert engine_refresh(host, drifted) is None  # gone: `pulumi up` creates it again
    recreated = engine_up(host, "orders", inputs)
    assert recreated.outputs["adopted"] is False and len(live_columns(postgres, pg_database)) == 11


def test_adds_a_nullable_column_in_place_keeping_rows(host: ProviderHost, postgres: PostgresServer,
                                                      pg_database: str) -> None:
    state = engine_up(host, "orders", table_inputs(postgres, pg_database))
    insert_order(postgres, pg_database)
    wider = table_inputs(postgres, pg_database, with_columns(ddl.DEFAULT_ORDER_DETAILS,
                                                             ddl.Column("channel", "VARCHAR(32)")))

    checked = host.check(state.inputs, wider, "orders")
    assert host.diff(state.id, state.outputs, checked.inputs, "orders").replaces == []
    updated = engine_up(host, "orders", wider, state)

    assert updated.steps == ["check", "diff", "update"]
    assert live_columns(postgres, pg_database)[-1] == ("channel", "character varying(32)", False)
    assert count_orders(postgres, pg_database) == 1
    assert updated.outputs["columns"][-1] == {"name": "channel", "type": "character varying(32)", "nullable": True}
    assert updated.outputs["unappliedProperties"] == ["event_time_column"]  # outputs kept whole by update


def test_replacing_a_table_with_rows_is_refused_unless_allowed(host: ProviderHost, postgres: PostgresServer,
                                                               pg_database: str) -> None:
    state = engine_up(host, "orders", table_inputs(postgres, pg_database))
    insert_order(postgres, pg_database)
    text_price = retyped(ddl.DEFAULT_ORDER_DETAILS, "price", "TEXT")

    with pytest.raises(ProviderError) as refused:
        engine_up(host, "orders", table_inputs(postgres, pg_database, text_price), state)
    assert refused.value.last_line.endswith(
        "HologresError: refusing to replace table public.order_details: column 'price': numeric(38,2) → text "
        "needs a new table, which drops the existing one and its rows; set dropTableOnDestroy to true and run "
        "`pulumi up` first to allow it, or keep the old definition")
    assert count_orders(postgres, pg_database) == 1
    with pytest.raises(ProviderError, match="refusing to replace"):  # the flag must already be in the state
        engine_up(host, "orders", table_inputs(postgres, pg_database, text_price, dropTableOnDestroy=True), state)

    allowed = engine_up(host, "orders", table_inputs(postgres, pg_database, dropTableOnDestroy=True), state)
    assert allowed.steps == ["check", "diff", "update"] and allowed.outputs["dropTableOnDestroy"] is True
    replaced = engine_up(host, "orders", table_inputs(postgres, pg_database, text_price, dropTableOnDestroy=True),
                         allowed)
    assert replaced.steps == ["check", "diff", "delete", "create"]
    assert ("price", "text", False) in live_columns(postgres, pg_database)
    assert count_orders(postgres, pg_database) == 0


def test_delete_keeps_the_table_and_its_data_by_default(host: ProviderHost, postgres: PostgresServer,
                                                        pg_database: str) -> None:
    state = engine_up(host, "orders", table_inputs(postgres, pg_database))
    insert_order(postgres, pg_database)
    engine_destroy(host, state)
    assert count_orders(postgres, pg_database) == 1
    assert (f"warning: kept table public.order_details and its data in database '{pg_database}' "
            "(dropTableOnDestroy is false)") in host.output()


def test_delete_with_the_flag_drops_with_restrict(host: ProviderHost, postgres: PostgresServer,
                                                  pg_database: str) -> None:
    state = engine_up(host, "orders", table_inputs(postgres, pg_database, dropTableOnDestroy=True))
    assert state.outputs["onDestroy"] == "drop the table (DROP TABLE … RESTRICT)"
    insert_order(postgres, pg_database)
    query(postgres, pg_database, "CREATE VIEW order_view AS SELECT user_id FROM public.order_details")

    with pytest.raises(ProviderError) as restricted:
        engine_destroy(host, state)
    line = restricted.value.last_line
    assert "cannot drop table order_details because other objects depend on it" in line
    assert "view order_view depends on table order_details" in line and line.endswith("(SQLSTATE 2BP01)")
    assert count_orders(postgres, pg_database) == 1

    query(postgres, pg_database, "DROP VIEW order_view")
    engine_destroy(host, state)
    assert query(postgres, pg_database, "SELECT to_regclass('public.order_details')") == [(None,)]
    engine_destroy(host, state)  # already gone: nothing to do


def test_adopts_an_identical_existing_table(host: ProviderHost, postgres: PostgresServer, pg_database: str) -> None:
    engine_destroy(host, engine_up(host, "orders", table_inputs(postgres, pg_database)))  # kept
    insert_order(postgres, pg_database)
    adopted = engine_up(host, "orders", table_inputs(postgres, pg_database))
    assert adopted.outputs["adopted"] is True
    assert count_orders(postgres, pg_database) == 1


def test_an_existing_table_that_differs_is_an_error_listing_the_differences(
        host: ProviderHost, postgres: PostgresServer, pg_database: str) -> None:
    query(postgres, pg_database, "CREATE TABLE public.order_details (user_id bigint PRIMARY KEY, price real, "
                                 "legacy text)")
    with pytest.raises(ProviderError) as differs:
        engine_up(host, "orders", table_inputs(postgres, pg_database))
    line = differs.value.last_line
    assert "create public.order_details: the table already exists and differs (live → declared): " in line
    for difference in ("column 'price': real → numeric(38,2)", "column 'legacy': text → absent",
                       "column 'item_id': absent → bigint NOT NULL", "primary key (user_id) → (user_id, item_id)"):
        assert difference in line
    assert len(live_columns(postgres, pg_database)) == 3  # untouched


# --- preview, credentials, reachability, bad inputs ------------------------------------------------------


class Listener:
    """A TCP port that accepts connections and never answers: counts who knocks, or makes them wait."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with self.sock:
            while True:
                try:
                    self.accepted.append(self.sock.accept()[0])
                except OSError:
                    return

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    listening = Listener()
    yield listening
    listening.close()


def test_preview_with_unknown_values_never_touches_the_database(host: ProviderHost, postgres: PostgresServer,
                                                                pg_database: str, listener: Listener) -> None:
    state = engine_up(host, "orders", table_inputs(postgres, pg_database))
    # Every connection attempt lands on the listener, which records it.
    preview = table_inputs(postgres, pg_database, port=listener.port)

    # A new stack: the endpoint and the columns come from resources not created yet.
    checked = host.check({}, {**preview, "host": UNKNOWN, "database": UNKNOWN, "columns": UNKNOWN}, "orders")
    assert checked.failures == [] and isinstance(checked.inputs["columns"], Unknown)
    # An existing table: unknown table properties may need a new table, so they show as a replace.
    checked = host.check(state.inputs, {**preview, "properties": UNKNOWN}, "orders")
    diff = host.diff(state.id, state.outputs, checked.inputs, "orders")
    assert checked.failures == [] and diff.replaces == ["properties"] and diff.delete_before_replace
    # Known values: check and diff still only compare.
    checked = host.check(state.inputs, preview, "orders")
    diff = host.diff(state.id, state.outputs, checked.inputs, "orders")
    assert checked.failures == [] and (diff.changes, diff.replaces) == ("some", [])
    time.sleep(0.2)
    assert listener.accepted == []


def test_wrong_password_fails_without_revealing_it(provider_host: ProviderHost, postgres: PostgresServer,
                                                  pg_database: str) -> None:
    sentinel = f"S3NT1NEL-{secrets.token_hex(8)}"
    provider_host.configure({USER_KEY: postgres.user, PASSWORD_KEY: sentinel}, secret_keys=(PASSWORD_KEY,))
    inputs = table_inputs(postgres, pg_database)
    checked = provider_host.check({}, inputs, "orders")
    assert sentinel not in json.dumps(checked.inputs)
    with pytest.raises(ProviderError) as failed:
        provider_host.create(checked.inputs, "orders")
    line = failed.value.last_line
    assert line.startswith("components.hologres_table.HologresError: create public.order_details: cannot connect to ")
    assert f'password authentication failed for user "{postgres.user}"' in line
    assert sentinel not in failed.value.details and sentinel not in provider_host.output()
    assert "During handling of the above exception" not in failed.value.details  # raised from None
    # The provider pickled into the state holds config key names, never values.
    assert sentinel.encode() not in base64.b64decode(inputs["__provider"])


def test_missing_credentials_are_check_failures(provider_host: ProviderHost, postgres: PostgresServer) -> None:
    provider_host.configure({USER_KEY: "someone"})
    failures = provider_host.check({}, table_inputs(postgres, "db"), "orders").failures
    assert failures == [("hologresPassword",
                         "missing stack config: pulumi config set --secret hologresPassword <AccessKey secret>")]


def test_a_server_that_is_down_fails_fast(host: ProviderHost, postgres: PostgresServer) -> None:
    started = time.monotonic()
    with pytest.raises(ProviderError) as refused:
        engine_up(host, "orders", table_inputs(postgres, "db", port=free_port()))
    assert time.monotonic() - started < 5
    assert "cannot connect to 127.0.0.1:" in refused.value.last_line and "Connection refused" in refused.value.last_line


def test_a_server_that_never_answers_fails_within_the_connect_timeout(host: ProviderHost, postgres: PostgresServer,
                                                                      listener: Listener) -> None:
    started = time.monotonic()
    with pytest.raises(ProviderError) as timed_out:
        engine_up(host, "orders", table_inputs(postgres, "db", port=listener.port, connectTimeout=2))
    elapsed = time.monotonic() - started
    assert 1.5 < elapsed < 8
    assert "timeout expired" in timed_out.value.last_line


def test_a_statement_that_runs_too_long_is_cancelled(host: ProviderHost, postgres: PostgresServer,
                                                     pg_database: str) -> None:
    # Another session holds the table's name: our CREATE waits for its lock until statement_timeout.
    blocker = postgres.connect(pg_database)
    try:
        with blocker.cursor() as cur:
            cur.execute("CREATE TABLE public.order_details (x int)")  # uncommitted: holds the name
        started = time.monotonic()
        with pytest.raises(ProviderError) as cancelled:
            engine_up(host, "orders", table_inputs(postgres, pg_database, statementTimeout=1))
        assert time.monotonic() - started < 8
        assert cancelled.value.last_line.endswith("canceling statement due to statement timeout (SQLSTATE 57014)")
    finally:
        blocker.close()


def _columns_with(extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [*ddl.spec_to_props(ddl.DEFAULT_ORDER_DETAILS)["columns"], extra]


BAD_INPUTS = [
    ({"columns": _columns_with({"name": "qty", "type": "NUMBERIC(38,2)"})}, "columns[11].type"),
    ({"columns": _columns_with({"name": "qty", "type": "numeric(39,2)"})}, "columns[11].type"),
    ({"columns": _columns_with({"name": "qty", "type": "varchar(0)"})}, "columns[11].type"),
    ({"columns": _columns_with({"name": "ip", "type": "text"})}, "columns[11].name"),
    ({"columns": _columns_with({"name": "x" * 64, "type": "text"})}, "columns[11].name"),
    ({"columns": _columns_with({"name": "qty", "type": "int", "nullable": "no"})}, "columns[11].nullable"),
    ({"primaryKey": ["user_id", "price"]}, "primaryKey"),
    ({"primaryKey": ["user_id", "ghost"]}, "primaryKey"),
    ({"properties": {"orientation": "diagonal"}}, "properties.orientation"),
    ({"properties": {"colour": "blue"}}, "properties.colour"),
    ({"properties": {"distribution_key": ["city"]}}, "properties.distribution_key"),
    ({"properties": {"bitmap_columns": ["ghost"]}}, "properties.bitmap_columns"),
    ({"properties": {"time_to_live_in_seconds": -5}}, "properties.time_to_live_in_seconds"),
    ({"properties": {"binlog.level": "full"}}, "properties.binlog.level"),
    ({"primaryKey": [], "properties": {"orientation": "row"}}, "properties.orientation"),
    ({"tableName": ""}, "tableName"),
    ({"schemaName": "s" * 64}, "schemaName"),
    ({"port": 0}, "port"),
    ({"sslmode": "sometimes"}, "sslmode"),
    ({"connectTimeout": 0}, "connectTimeout"),
    ({"statementTimeout": "1m"}, "statementTimeout"),
    ({"dropTableOnDestroy": "yes"}, "dropTableOnDestroy"),
    ({"host": ""}, "host"),
]


def test_bad_inputs_each_fail_with_one_line_naming_the_property(host: ProviderHost, postgres: PostgresServer) -> None:
    for change, prop in BAD_INPUTS:
        inputs = {**table_inputs(postgres, "db"), **change}
        with pytest.raises(CheckFailed) as failed:
            engine_up(host, "orders", inputs)
        assert [p for p, _ in failed.value.failures] == [prop], change
        assert all("\n" not in reason and reason for _, reason in failed.value.failures)


# --- Hologres, emulated in the test database ----------------------------------------------------------

HOLOGRES_EMULATION = """
CREATE SCHEMA hologres;
CREATE TABLE hologres.hg_table_properties (
    table_namespace text, table_name text, property_key text, property_value text,
    PRIMARY KEY (table_namespace, table_name, property_key));
CREATE TABLE hg_calls (seq serial PRIMARY KEY, table_ref text, property text, value text);
CREATE TABLE hg_reject (property text);
CREATE TABLE hg_emulated_version (version text);
CREATE FUNCTION hg_version() RETURNS text LANGUAGE sql AS $$ SELECT version FROM hg_emulated_version $$;
CREATE PROCEDURE set_table_property(table_ref text, property text, value text) LANGUAGE plpgsql AS $$
DECLARE
    parts text[] := parse_ident(table_ref);
BEGIN
    IF to_regclass(table_ref) IS NULL THEN
        RAISE EXCEPTION 'relation % does not exist', table_ref USING ERRCODE = '42P01';
    END IF;
    IF EXISTS (SELECT FROM hg_reject r WHERE r.property = set_table_property.property) THEN
        RAISE EXCEPTION 'invalid value for table property %', property USING ERRCODE = '22023';
    END IF;
    INSERT INTO hg_calls (table_ref, property, value) VALUES (table_ref, property, value);
    INSERT INTO hologres.hg_table_properties VALUES (parts[1], parts[2], property, value)
        ON CONFLICT (table_namespace, table_name, property_key) DO UPDATE SET property_value = EXCLUDED.property_value;
END $$;
"""
HOLOGRES_TABLE = ddl.TableSpec(
    "public", "Order Details", (*ddl.DEFAULT_ORDER_DETAILS.columns, ddl.Column("Channel", "TEXT")),
    ddl.DEFAULT_ORDER_DETAILS.primary_key,
    ddl.HologresProperties(
        orientation="column", distribution_key=("user_id",), clustering_key=("sale_timestamp:asc",),
        event_time_column=("sale_timestamp",), bitmap_columns=("province", "Channel"),
        dictionary_encoding_columns=("province:auto",), time_to_live_in_seconds=3153600000,
        binlog_level="replica", binlog_ttl=86400))
TABLE_REF = '"public"."Order Details"'


def emulate_hologres(postgres: PostgresServer, database: str, version: str) -> None:
    query(postgres, database, HOLOGRES_EMULATION)
    query(postgres, database, "INSERT INTO hg_emulated_version VALUES (%s)", version)


def hg_calls(postgres: PostgresServer, database: str) -> list[tuple]:
    return query(postgres, database, "SELECT table_ref, property, value FROM hg_calls ORDER BY seq")


def test_hologres_before_2_1_sets_properties_in_the_create_transaction(
        host: ProviderHost, postgres: PostgresServer, pg_database: str) -> None:
    emulate_hologres(postgres, pg_database, "Hologres 1.3.61 (tag: 1.3.61, build: 2024-01-01)")
    inputs = table_inputs(postgres, pg_database, HOLOGRES_TABLE)
    state = engine_up(host, "orders", inputs)

    assert hg_calls(postgres, pg_database) == [
        (TABLE_REF, "orientation", "column"), (TABLE_REF, "distribution_key", "user_id"),
        (TABLE_REF, "clustering_key", "sale_timestamp:asc"), (TABLE_REF, "event_time_column", "sale_timestamp"),
        (TABLE_REF, "bitmap_columns", 'province,"Channel"'),
        (TABLE_REF, "dictionary_encoding_columns", "province:auto"),
        (TABLE_REF, "time_to_live_in_seconds", "3153600000"), (TABLE_REF, "binlog.level", "replica"),
        (TABLE_REF, "binlog.ttl", "86400")]
    assert len(live_columns(postgres, pg_database, "Order Details")) == 12
    outputs = state.outputs
    assert outputs["hologresVersion"].startswith("Hologres 1.3.61") and outputs["unappliedProperties"] == []
    # Read back from the catalog: the same declaration shows no diff.
    assert outputs["properties"]["bitmap_columns"] == ["province", "Channel"]
    assert outputs["properties"]["time_to_live_in_seconds"] == 3153600000
    refreshed = engine_refresh(host, state)
    assert refreshed is not None and engine_up(host, "orders", inputs, refreshed).steps == ["check", "diff"]

    # Mutable properties change in place, each with one call.
    mutable = ddl.TableSpec(HOLOGRES_TABLE.schema, HOLOGRES_TABLE.name, HOLOGRES_TABLE.columns,
                            HOLOGRES_TABLE.primary_key,
                            ddl.HologresProperties(**{**vars(HOLOGRES_TABLE.properties),
                                                      "time_to_live_in_seconds": 86400, "bitmap_columns": ("city",)}))
    updated = engine_up(host, "orders", table_inputs(postgres, pg_database, mutable), refreshed)
    assert updated.steps == ["check", "diff", "update"]
    assert hg_calls(postgres, pg_database)[9:] == [
        (TABLE_REF, "bitmap_columns", "city"), (TABLE_REF, "time_to_live_in_seconds", "86400")]
    assert updated.outputs["properties"]["bitmap_columns"] == ["city"]

    # An immutable one needs a new table: refused while dropTableOnDestroy is false.
    moved = ddl.TableSpec(mutable.schema, mutable.name, mutable.columns, mutable.primary_key,
                          ddl.HologresProperties(**{**vars(mutable.properties), "distribution_key": ("item_id",)}))
    with pytest.raises(ProviderError, match="distribution_key: \\['user_id'\\] → \\['item_id'\\]"):
        engine_up(host, "orders", table_inputs(postgres, pg_database, moved), updated)

    # Destroy keeps it; the next up adopts it, properties included.
    engine_destroy(host, updated)
    assert engine_up(host, "orders", table_inputs(postgres, pg_database, mutable)).outputs["adopted"] is True


def test_hologres_create_is_all_or_nothing(host: ProviderHost, postgres: PostgresServer, pg_database: str) -> None:
    emulate_hologres(postgres, pg_database, "Hologres 1.1.84")
    query(postgres, pg_database, "INSERT INTO hg_reject VALUES ('binlog.ttl')")
    with pytest.raises(ProviderError) as rejected:
        engine_up(host, "orders", table_inputs(postgres, pg_database, HOLOGRES_TABLE))
    assert rejected.value.last_line.endswith("invalid value for table property binlog.ttl (SQLSTATE 22023)")
    assert query(postgres, pg_database, "SELECT to_regclass('public.\"Order Details\"')") == [(None,)]
    assert hg_calls(postgres, pg_database) == []


def test_hologres_2_1_creates_the_table_with_a_with_clause(host: ProviderHost, postgres: PostgresServer,
                                                           pg_database: str) -> None:
    emulate_hologres(postgres, pg_database, "Hologres 2.1.20 (tag: 2.1.20)")
    # PostgreSQL rejects Hologres' WITH options, so the emulation captures the statement instead: an event
    # trigger (superuser only) fails every CREATE TABLE with the statement text as its message.
    conn = postgres.connect(pg_database, admin=True)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("""
                CREATE FUNCTION hg_capture() RETURNS event_trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'captured: %', current_query() USING ERRCODE = '0A000'; END $$;
                CREATE EVENT TRIGGER hg_capture ON ddl_command_start WHEN TAG IN ('CREATE TABLE')
                    EXECUTE FUNCTION hg_capture();""")
    except psycopg2.errors.InsufficientPrivilege:
        missing("a PostgreSQL superuser (the Hologres 2.1 emulation needs an event trigger)")
    finally:
        conn.close()
    with pytest.raises(ProviderError) as captured:
        engine_up(host, "orders", table_inputs(postgres, pg_database, HOLOGRES_TABLE))
    columns = ", ".join(f'"{c.name}" {ddl.canonical_type(c.type)}{"" if c.nullable else " NOT NULL"}'
                        for c in HOLOGRES_TABLE.columns)
    assert captured.value.last_line.endswith(
        f'captured: CREATE TABLE {TABLE_REF} ({columns}, PRIMARY KEY ("user_id", "item_id")) WITH ('
        "orientation = 'column', distribution_key = 'user_id', clustering_key = 'sale_timestamp:asc', "
        "event_time_column = 'sale_timestamp', bitmap_columns = 'province,\"Channel\"', "
        "dictionary_encoding_columns = 'province:auto', time_to_live_in_seconds = '3153600000', "
        "binlog_level = 'replica', binlog_ttl = '86400') (SQLSTATE 0A000)")
    assert hg_calls(postgres, pg_database) == []  # no set_table_property from V2.1


# --- names: whatever a name holds, it is only ever an identifier ------------------------------------------

TRICKY_NAMES = ['x"; DROP TABLE victims; --', "Robert'); DROP TABLE students;--", '"', "'", " ", "a b", "UPPER",
                "MiXeD", "日本語の表", "ÄÖÜß", "emoji 🚀", "back\\slash", "semi;colon", "per%cent", "dollar$$quote",
                "new\nline", "tab\tname", "a.b", "%s", "{}"]
NAMES = st.one_of(
    st.sampled_from(TRICKY_NAMES),
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), min_size=1, max_size=20),
).filter(lambda name: len(name.encode()) <= ddl.MAX_IDENTIFIER_BYTES)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=NAMES, columns=st.lists(NAMES, min_size=1, max_size=4, unique=True))
def test_any_name_is_created_exactly_and_dropped(host: ProviderHost, postgres: PostgresServer, pg_database: str,
                                                 table: str, columns: list[str]) -> None:
    query(postgres, pg_database, "DROP TABLE IF EXISTS victims")
    query(postgres, pg_database, "CREATE TABLE victims (x int)")
    query(postgres, pg_database, sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier("public", table)))
    spec = ddl.TableSpec("public", table, tuple(ddl.Column(c, "BIGINT") for c in columns), (columns[0],))
    inputs = table_inputs(postgres, pg_database, spec, dropTableOnDestroy=True)

    state: ResourceState = engine_up(host, "t", inputs)
    assert state.outputs["tableName"] == table and state.outputs["primaryKey"] == [columns[0]]
    live = query(postgres, pg_database, """
        SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname = %s AND a.attnum > 0 ORDER BY a.attnum""", table)
    assert [name for (name,) in live] == columns
    query(postgres, pg_database, sql.SQL("INSERT INTO {} ({}) VALUES (1)").format(
        sql.Identifier("public", table), sql.Identifier(columns[0])))

    engine_destroy(host, state)
    assert query(postgres, pg_database, "SELECT count(*) FROM pg_class WHERE relname = %s", table) == [(0,)]
    assert query(postgres, pg_database, "SELECT to_regclass('victims') IS NOT NULL") == [(True,)]


# --- the resource class ----------------------------------------------------------------------------------


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registered.append(args)
        return "public.order_details", {**args.inputs, "qualifiedName": "public.order_details", "adopted": False}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


def test_the_resource_registers_its_type_and_engine_property_names() -> None:
    mocks = RecordingMocks()
    asyncio.set_event_loop(asyncio.new_event_loop())  # whatever earlier tests did to the current loop
    pulumi.runtime.set_mocks(mocks, project="flink-hologres", stack="test", preview=False)

    @pulumi.runtime.test
    def check() -> pulumi.Output[Any]:
        table = HologresTable("orders", HologresTableArgs(host="holo.example", database="demo",
                                                          table=ddl.DEFAULT_ORDER_DETAILS.with_name("sales.orders"),
                                                          drop_table_on_destroy=True))

        def verify(values: list[Any]) -> None:
            qualified, primary_key = values
            [args] = mocks.registered
            assert args.typ == TYPE
            assert {k: v for k, v in args.inputs.items() if k not in ("__provider", "columns")} == {
                "host": "holo.example", "port": 80, "database": "demo", "sslmode": "prefer", "connectTimeout": 10,
                "statementTimeout": 60, "dropTableOnDestroy": True, "schemaName": "sales", "tableName": "orders",
                "primaryKey": ["user_id", "item_id"], "properties": {"event_time_column": ["sale_timestamp"]}}
            # The provider is pickled by reference: its module path is what the host re-imports.
            assert rpc.is_rpc_secret(args.inputs["__provider"])  # the SDK keeps it secret in the state
            pickled = base64.b64decode(rpc.unwrap_rpc_secret(args.inputs["__provider"]))
            assert b"components.hologres_table" in pickled and b"HologresTableProvider" in pickled
            assert len(pickled) < 1000
            assert qualified == "public.order_details" and primary_key == ["user_id", "item_id"]

        return pulumi.Output.all(table.qualified_name, table.primary_key).apply(verify)

    check()
