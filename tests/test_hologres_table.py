"""HologresTable's provider, run by Pulumi's own provider host over gRPC against a real PostgreSQL.

Every operation goes through the engine-order harness (tests/harness/engine.py): the provider calls
of `pulumi up` / `refresh` / `preview` / `destroy` / `up --replace`, in the engine's order, with the
state the engine keeps; the database is inspected directly with psycopg2. The Hologres branch runs
in tests/test_hologres_emulated.py, TLS in tests/test_hologres_tls.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg2 import sql
from pulumi.runtime import rpc

from components import hologres_ddl as ddl
from components.hologres_table import HologresTable, HologresTableArgs
from tests.harness import free_port
from tests.harness import hologres_emulation as emulation
from tests.harness.engine import Engine
from tests.harness.hologres_tables import (
    PASSWORD_KEY,
    TYPE,
    USER_KEY,
    count_orders,
    engine_as,
    insert_order,
    live_columns,
    query,
    retyped,
    table_exists,
    table_inputs,
    with_columns,
)
from tests.harness.postgres import PostgresServer
from tests.harness.provider_host import UNKNOWN, CheckFailed, ProviderError, ProviderHost

pytestmark = pytest.mark.postgres
DROP_WITH_RESTRICT = "drop the table (DROP TABLE … RESTRICT)"


@pytest.fixture
def engine(provider_host: ProviderHost, postgres: PostgresServer) -> Engine:
    return engine_as(provider_host, postgres.user, postgres.password)


# --- the tutorial table on plain PostgreSQL ------------------------------------------------------------


def test_creates_the_tutorial_table_and_reads_it_back(engine: Engine, postgres: PostgresServer,
                                                      pg_database: str) -> None:
    state = engine.up("orders", table_inputs(postgres, pg_database))

    assert engine.last_calls == ["check", "create"] and state.id == "public.order_details"
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
    assert outputs["tls"] == "off: plaintext (sslmode prefer)"  # the test server has no TLS
    # The password is not an input and never an output.
    assert postgres.password not in json.dumps(state.outputs) + json.dumps(state.inputs)

    refreshed = engine.refresh("orders")
    assert engine.last_calls == ["read", "diff"] and not refreshed.drift
    assert refreshed.state is not None and refreshed.state.outputs == state.outputs
    engine.up("orders", table_inputs(postgres, pg_database))
    assert engine.last_calls == ["check", "diff"]  # nothing to do


@pytest.mark.parametrize("hologres", [None, "Hologres 1.3.61"])
def test_refresh_reports_drift_as_a_diff_and_up_keeps_the_rows(engine: Engine, postgres: PostgresServer,
                                                               pg_database: str, hologres: str | None) -> None:
    if hologres:
        emulation.install(postgres, pg_database, hologres)
    inputs = table_inputs(postgres, pg_database)
    engine.up("orders", inputs)
    insert_order(postgres, pg_database)
    query(postgres, pg_database, "ALTER TABLE public.order_details ADD COLUMN coupon text")

    # `pulumi refresh`: read, then diff with the old inputs as the news; drift is a diff, not an error.
    drifted = engine.refresh("orders")
    assert engine.last_calls == ["read", "diff"] and drifted.drift
    assert drifted.state is not None
    assert drifted.state.outputs["columns"][-1] == {"name": "coupon", "type": "text", "nullable": True}
    assert drifted.diff is not None and drifted.diff.replaces == ["columns"] and drifted.diff.delete_before_replace

    # Converging needs a new table; with dropTableOnDestroy false nothing is dropped: the delete keeps the
    # table, and the create refuses to take over one that differs.
    with pytest.raises(ProviderError) as refused:
        engine.up("orders", inputs)
    assert engine.last_calls == ["check", "diff", "check", "delete", "create"]
    assert ("create public.order_details: the table already exists and differs (live → declared): "
            "column 'coupon': text → absent") in refused.value.last_line
    assert count_orders(postgres, pg_database) == 1

    query(postgres, pg_database, "DROP TABLE public.order_details")
    engine.up("orders", inputs)  # the failed replace left nothing in the state: a plain create
    assert engine.refresh("orders").drift is False
    query(postgres, pg_database, "DROP TABLE public.order_details")
    gone = engine.refresh("orders")
    assert gone.state is None and engine.state("orders") is None  # gone: `pulumi up` creates it again
    recreated = engine.up("orders", inputs)
    assert recreated.outputs["adopted"] is False and len(live_columns(postgres, pg_database)) == 11


def test_adds_a_nullable_column_in_place_keeping_rows(engine: Engine, postgres: PostgresServer,
                                                      pg_database: str) -> None:
    created = engine.up("orders", table_inputs(postgres, pg_database))
    insert_order(postgres, pg_database)
    wider = table_inputs(postgres, pg_database, with_columns(ddl.DEFAULT_ORDER_DETAILS,
                                                             ddl.Column("channel", "VARCHAR(32)")))
    preview = engine.preview("orders", wider)
    assert preview.diff is not None and preview.diff.replaces == []
    updated = engine.up("orders", wider)

    assert engine.last_calls == ["check", "diff", "update"]
    assert live_columns(postgres, pg_database)[-1] == ("channel", "character varying(32)", False)
    assert count_orders(postgres, pg_database) == 1
    assert updated.outputs["columns"][-1] == {"name": "channel", "type": "character varying(32)", "nullable": True}
    assert updated.outputs["unappliedProperties"] == ["event_time_column"]  # outputs kept whole by update
    # The same table keeps its generation (the jobs' sink identity), also as a checked input: what the
    # engine shows as a previewed update's outputs, so a preview does not show the jobs replaced.
    assert updated.inputs["generation"] == updated.outputs["generation"] == created.outputs["generation"]


def test_a_rebuild_is_refused_in_check_unless_already_allowed(engine: Engine, postgres: PostgresServer,
                                                              pg_database: str) -> None:
    engine.up("orders", table_inputs(postgres, pg_database))
    insert_order(postgres, pg_database)
    text_price = retyped(ddl.DEFAULT_ORDER_DETAILS, "price", "TEXT")

    with pytest.raises(CheckFailed) as refused:
        engine.up("orders", table_inputs(postgres, pg_database, text_price))
    assert engine.last_calls == ["check"]  # before anything is touched; `pulumi preview` shows the same
    assert refused.value.failures == [(
        "columns.price", "refusing to replace table public.order_details: column 'price': numeric(38,2) → text "
        "needs a new table, which drops the existing one and its rows; set dropTableOnDestroy to true and run "
        "`pulumi up` first to allow it, or keep the old definition")]
    assert count_orders(postgres, pg_database) == 1
    with pytest.raises(CheckFailed, match="refusing to replace"):  # the flag must already be in the state
        engine.up("orders", table_inputs(postgres, pg_database, text_price, dropTableOnDestroy=True))

    allowed = engine.up("orders", table_inputs(postgres, pg_database, dropTableOnDestroy=True))
    assert engine.last_calls == ["check", "diff", "update"] and allowed.outputs["dropTableOnDestroy"] is True
    engine.up("orders", table_inputs(postgres, pg_database, text_price, dropTableOnDestroy=True))
    assert engine.last_calls == ["check", "diff", "check", "delete", "create"]  # delete first: same name
    assert ("price", "text", False) in live_columns(postgres, pg_database)
    assert count_orders(postgres, pg_database) == 0


@pytest.mark.parametrize("hologres", [None, "Hologres 1.3.61"])
@pytest.mark.parametrize("drop", [False, True])
@pytest.mark.parametrize("delete_first", [False, True])
def test_up_replace_in_either_order_never_loses_the_table(engine: Engine, postgres: PostgresServer, pg_database: str,
                                                          drop: bool, delete_first: bool, hologres: str | None) -> None:
    """`pulumi up --replace`: the engine skips the provider's diff. HologresTable sets delete-before-replace
    (delete_first=True); should a user's option force create-before-delete, the old delete leaves the table
    to the resource that adopted it. On plain PostgreSQL and on the Hologres emulation."""
    if hologres:
        emulation.install(postgres, pg_database, hologres)
    inputs = table_inputs(postgres, pg_database, dropTableOnDestroy=drop)
    first = engine.up("orders", inputs)
    insert_order(postgres, pg_database)

    replaced = engine.up("orders", inputs, replace=True, delete_before_replace=delete_first)

    assert engine.last_calls == (["check", "delete", "create"] if delete_first else ["check", "create", "delete"])
    assert table_exists(postgres, pg_database)  # the state's table is there, whatever the order
    if drop and delete_first:
        # The user asked for both: a replacement, and dropping the table with it.
        assert count_orders(postgres, pg_database) == 0 and replaced.outputs["adopted"] is False
    else:
        assert count_orders(postgres, pg_database) == 1 and replaced.outputs["adopted"] is True
    assert replaced.outputs["generation"] != first.outputs["generation"]
    assert engine.refresh("orders").drift is False


def test_delete_keeps_the_table_and_its_data_by_default(engine: Engine, postgres: PostgresServer,
                                                        pg_database: str) -> None:
    engine.up("orders", table_inputs(postgres, pg_database))
    insert_order(postgres, pg_database)
    engine.destroy("orders")
    assert count_orders(postgres, pg_database) == 1
    assert (f"warning: kept table public.order_details and its data in database '{pg_database}' "
            "(dropTableOnDestroy is false)") in engine.host.output()


def test_delete_with_the_flag_drops_with_restrict(engine: Engine, postgres: PostgresServer,
                                                  pg_database: str) -> None:
    state = engine.up("orders", table_inputs(postgres, pg_database, dropTableOnDestroy=True))
    assert state.outputs["onDestroy"] == DROP_WITH_RESTRICT
    insert_order(postgres, pg_database)
    query(postgres, pg_database, "CREATE VIEW order_view AS SELECT user_id FROM public.order_details")

    with pytest.raises(ProviderError) as restricted:
        engine.destroy("orders")
    line = restricted.value.last_line
    assert "cannot drop table order_details because other objects depend on it" in line
    assert "view order_view depends on table order_details" in line and line.endswith("(SQLSTATE 2BP01)")
    assert count_orders(postgres, pg_database) == 1 and engine.state("orders") is not None

    query(postgres, pg_database, "DROP VIEW order_view")
    engine.destroy("orders")
    assert not table_exists(postgres, pg_database)
    engine.up("orders", table_inputs(postgres, pg_database, dropTableOnDestroy=True))
    query(postgres, pg_database, "DROP TABLE public.order_details")
    engine.destroy("orders")  # already gone: nothing to do


def test_adopts_an_identical_existing_table(engine: Engine, postgres: PostgresServer, pg_database: str) -> None:
    engine.up("orders", table_inputs(postgres, pg_database))
    engine.destroy("orders")  # kept
    insert_order(postgres, pg_database)
    query(postgres, pg_database, "COMMENT ON TABLE public.order_details IS 'orders of the tutorial'")
    adopted = engine.up("orders", table_inputs(postgres, pg_database))
    assert adopted.outputs["adopted"] is True
    assert count_orders(postgres, pg_database) == 1
    # The comment keeps the user's text; the marker names the resource that now owns the table.
    [(comment,)] = query(postgres, pg_database, "SELECT obj_description('public.order_details'::regclass)")
    assert comment == (f"orders of the tutorial [managed by pulumi flink-hologres: generation "
                       f"{adopted.outputs['generation']}]")


def test_an_existing_table_that_differs_is_an_error_listing_the_differences(
        engine: Engine, postgres: PostgresServer, pg_database: str) -> None:
    query(postgres, pg_database, "CREATE TABLE public.order_details (user_id bigint PRIMARY KEY, price real, "
                                 "legacy text)")
    with pytest.raises(ProviderError) as differs:
        engine.up("orders", table_inputs(postgres, pg_database))
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


def test_preview_with_unknown_values_never_touches_the_database(engine: Engine, postgres: PostgresServer,
                                                                pg_database: str, listener: Listener) -> None:
    engine.up("orders", table_inputs(postgres, pg_database))
    # Every connection attempt lands on the listener, which records it.
    preview = table_inputs(postgres, pg_database, port=listener.port)

    # A new stack: the endpoint and the columns come from resources not created yet.
    new = engine.preview("fresh", {**preview, "host": UNKNOWN, "database": UNKNOWN, "columns": UNKNOWN})
    assert new.failures == [] and new.diff is None and engine.last_calls == ["check"]
    # An existing table: unknown table properties may need a new table, so they show as a replace.
    unknown = engine.preview("orders", {**preview, "properties": UNKNOWN})
    assert unknown.failures == [] and unknown.diff is not None
    assert unknown.diff.replaces == ["properties"] and unknown.diff.delete_before_replace
    # Known values: check and diff still only compare.
    known = engine.preview("orders", preview)
    assert known.failures == [] and known.diff is not None and (known.diff.changes, known.diff.replaces) == ("some", [])
    assert engine.last_calls == ["check", "diff"]
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


def test_missing_credentials_are_check_failures_whose_fix_runs_as_printed(provider_host: ProviderHost,
                                                                         postgres: PostgresServer) -> None:
    provider_host.configure({})
    failures = provider_host.check({}, table_inputs(postgres, "db"), "orders").failures
    # Both are secret config: without --secret the program would refuse the value.
    assert failures == [
        ("hologresUser", "missing stack config: pulumi config set --secret hologresUser '<AccessKey ID>'"),
        ("hologresPassword", "missing stack config: pulumi config set --secret hologresPassword '<AccessKey secret>'")]
    for _, reason in failures:
        command = reason.split(": ", 1)[1]
        assert subprocess.run(["bash", "-n", "-c", command], capture_output=True).returncode == 0, command


def test_a_server_that_is_down_fails_fast(engine: Engine, postgres: PostgresServer) -> None:
    started = time.monotonic()
    with pytest.raises(ProviderError) as refused:
        engine.up("orders", table_inputs(postgres, "db", port=free_port()))
    assert time.monotonic() - started < 5
    assert "cannot connect to 127.0.0.1:" in refused.value.last_line and "Connection refused" in refused.value.last_line


def test_a_server_that_never_answers_fails_within_the_connect_timeout(engine: Engine, postgres: PostgresServer,
                                                                      listener: Listener) -> None:
    started = time.monotonic()
    with pytest.raises(ProviderError) as timed_out:
        engine.up("orders", table_inputs(postgres, "db", port=listener.port, connectTimeout=2))
    elapsed = time.monotonic() - started
    assert 1.5 < elapsed < 8
    assert "timeout expired" in timed_out.value.last_line


def test_a_statement_that_runs_too_long_is_cancelled(engine: Engine, postgres: PostgresServer,
                                                     pg_database: str) -> None:
    # Another session holds the table's name: our CREATE waits for its lock until statement_timeout.
    blocker = postgres.connect(pg_database)
    try:
        with blocker.cursor() as cur:
            cur.execute("CREATE TABLE public.order_details (x int)")  # uncommitted: holds the name
        started = time.monotonic()
        with pytest.raises(ProviderError) as cancelled:
            engine.up("orders", table_inputs(postgres, pg_database, statementTimeout=1))
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
    # The rules Hologres enforces inside CREATE TABLE, caught by check (issue 15, finding 6).
    ({"columns": _columns_with({"name": "qty", "type": "NUMERIC"})}, "columns[11].type"),
    ({"columns": _columns_with({"name": "blob", "type": "bytea", "nullable": False}),
      "primaryKey": ["user_id", "blob"]}, "primaryKey"),
    ({"properties": {"clustering_key": ["city"]}}, "properties.clustering_key"),
    ({"columns": _columns_with({"name": "score", "type": "float8", "nullable": False}),
      "properties": {"clustering_key": ["score"]}}, "properties.clustering_key"),
    ({"properties": {"event_time_column": ["city"]}}, "properties.event_time_column"),
    ({"properties": {"orientation": "row", "bitmap_columns": ["city"]}}, "properties.bitmap_columns"),
    ({"primaryKey": [], "properties": {"binlog.level": "replica"}}, "properties.binlog.level"),
    ({"tableName": ""}, "tableName"),
    ({"schemaName": "s" * 64}, "schemaName"),
    ({"port": 0}, "port"),
    ({"sslmode": "sometimes"}, "sslmode"),
    ({"connectTimeout": 0}, "connectTimeout"),
    ({"statementTimeout": "1m"}, "statementTimeout"),
    ({"dropTableOnDestroy": "yes"}, "dropTableOnDestroy"),
    ({"host": ""}, "host"),
]


def test_bad_inputs_each_fail_with_one_line_naming_the_property(engine: Engine, postgres: PostgresServer) -> None:
    for change, prop in BAD_INPUTS:
        inputs = {**table_inputs(postgres, "db"), **change}
        with pytest.raises(CheckFailed) as failed:
            engine.up("orders", inputs)
        assert [p for p, _ in failed.value.failures] == [prop], change
        assert all("\n" not in reason and reason for _, reason in failed.value.failures)


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
def test_any_name_is_created_exactly_and_dropped(engine: Engine, postgres: PostgresServer, pg_database: str,
                                                 table: str, columns: list[str]) -> None:
    query(postgres, pg_database, "DROP TABLE IF EXISTS victims")
    query(postgres, pg_database, "CREATE TABLE victims (x int)")
    query(postgres, pg_database, sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier("public", table)))
    spec = ddl.TableSpec("public", table, tuple(ddl.Column(c, "BIGINT") for c in columns), (columns[0],))
    inputs = table_inputs(postgres, pg_database, spec, dropTableOnDestroy=True)

    state = engine.up("t", inputs)
    assert state.outputs["tableName"] == table and state.outputs["primaryKey"] == [columns[0]]
    live = query(postgres, pg_database, """
        SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname = %s AND a.attnum > 0 ORDER BY a.attnum""", table)
    assert [name for (name,) in live] == columns
    query(postgres, pg_database, sql.SQL("INSERT INTO {} ({}) VALUES (1)").format(
        sql.Identifier("public", table), sql.Identifier(columns[0])))

    engine.destroy("t")
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
                "host": "holo.example", "port": 80, "database": "demo", "sslmode": "require", "sslRootCert": "",
                "connectTimeout": 10,
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
