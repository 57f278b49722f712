"""HologresTable's provider against the Hologres emulation (tests/harness/hologres_emulation.py) in a real
PostgreSQL, through pulumi's provider host in the engine's order: properties as Hologres keeps them, the
V2.1 WITH path executed, versions before V0.10, and both permission models."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from components import hologres_ddl as ddl
from tests.harness import hologres_emulation as emulation
from tests.harness import missing
from tests.harness.engine import Engine
from tests.harness.hologres_tables import (
    catalog,
    credentials,
    engine_as,
    live_columns,
    query,
    table_exists,
    table_inputs,
)
from tests.harness.postgres import PostgresServer
from tests.harness.provider_host import CheckFailed, ProviderError, ProviderHost

pytestmark = pytest.mark.postgres
TEXT_COLUMNS = ["user_name", "item_name", "province", "city", "longitude", "latitude", "ip", '"Channel"']
HOLOGRES_TABLE = ddl.TableSpec(
    "public", "Order Details", (*ddl.DEFAULT_ORDER_DETAILS.columns, ddl.Column("Channel", "TEXT")),
    ddl.DEFAULT_ORDER_DETAILS.primary_key,
    ddl.HologresProperties(
        orientation="column", distribution_key=("user_id",), clustering_key=("sale_timestamp",),
        event_time_column=("sale_timestamp",), bitmap_columns=("province", "Channel"),
        dictionary_encoding_columns=("province:on",), time_to_live_in_seconds=86400 * 365,
        binlog_level="replica", binlog_ttl=86400))
TABLE = "Order Details"


def with_properties(spec: ddl.TableSpec, **changes: object) -> ddl.TableSpec:
    return ddl.TableSpec(spec.schema, spec.name, spec.columns, spec.primary_key,
                         ddl.HologresProperties(**{**vars(spec.properties), **changes}))


@pytest.fixture
def engine(provider_host: ProviderHost, postgres: PostgresServer) -> Engine:
    return engine_as(provider_host, postgres.user, postgres.password)


def test_properties_as_hologres_keeps_them_show_no_false_drift(engine: Engine, postgres: PostgresServer,
                                                               pg_database: str) -> None:
    emulation.install(postgres, pg_database, "Hologres 1.3.61 (tag: 1.3.61, build: 2024-01-01)")
    inputs = table_inputs(postgres, pg_database, HOLOGRES_TABLE)
    state = engine.up("orders", inputs)

    # What the catalog writes: :asc spelled out, segment_key, defaults for every TEXT column, per column.
    assert catalog(postgres, pg_database, TABLE) == {
        "orientation": "column", "distribution_key": "user_id", "clustering_key": "sale_timestamp:asc",
        "segment_key": "sale_timestamp", "bitmap_columns": ",".join(TEXT_COLUMNS),
        "dictionary_encoding_columns": ",".join(f"{c}:{'on' if c == 'province' else 'auto'}" for c in TEXT_COLUMNS),
        "time_to_live_in_seconds": "31536000", "binlog.level": "replica", "binlog.ttl": "86400"}
    outputs = state.outputs
    assert outputs["hologresVersion"].startswith("Hologres 1.3.61") and outputs["unappliedProperties"] == []
    assert outputs["properties"]["clustering_key"] == ["sale_timestamp:asc"]
    assert outputs["properties"]["bitmap_columns"] == [c.strip('"') for c in TEXT_COLUMNS]
    assert outputs["unexplainedProperties"] == {}
    # Only what was declared is compared: refresh and the next `up` see nothing to do.
    assert engine.refresh("orders").drift is False
    engine.up("orders", inputs)
    assert engine.last_calls == ["check", "diff"]

    # Per column: turning one index off sends col:off, and only that.
    quieter = with_properties(HOLOGRES_TABLE, bitmap_columns=("province", "Channel", "city:off"),
                              time_to_live_in_seconds=86400)
    updated = engine.up("orders", table_inputs(postgres, pg_database, quieter))
    assert engine.last_calls == ["check", "diff", "update"]
    assert catalog(postgres, pg_database, TABLE)["bitmap_columns"] == ",".join(c for c in TEXT_COLUMNS if c != "city")
    assert "city" not in updated.outputs["properties"]["bitmap_columns"]
    assert catalog(postgres, pg_database, TABLE)["time_to_live_in_seconds"] == "86400"
    engine.up("orders", table_inputs(postgres, pg_database, quieter))
    assert engine.last_calls == ["check", "diff"]

    # An immutable one needs a new table: refused in check while dropTableOnDestroy is false.
    moved = with_properties(quieter, distribution_key=("item_id",))
    with pytest.raises(CheckFailed) as refused:
        engine.up("orders", table_inputs(postgres, pg_database, moved))
    assert refused.value.failures[0][0] == "properties.distribution_key"
    # … and the emulation itself refuses it outside the CREATE's transaction, as Hologres does.
    with pytest.raises(Exception, match="can only be set in the transaction that creates the table"):
        query(postgres, pg_database, "CALL set_table_property('public.\"Order Details\"', 'distribution_key', "
                                     "'item_id')")

    # Destroy keeps it; the next up adopts it, properties included.
    engine.destroy("orders")
    assert engine.up("orders", table_inputs(postgres, pg_database, quieter)).outputs["adopted"] is True


def test_hologres_create_is_all_or_nothing(provider_host: ProviderHost, postgres: PostgresServer,
                                           pg_database: str) -> None:
    emulation.install(postgres, pg_database, "Hologres 1.3.61")
    provider_host.configure(credentials(postgres.user, postgres.password))
    # Past check (which would refuse it), the emulation rejects a nullable clustering column in the
    # CREATE's transaction: nothing of the table may remain.
    nullable = with_properties(HOLOGRES_TABLE, clustering_key=("city",))
    with pytest.raises(ProviderError) as rejected:
        provider_host.create(table_inputs(postgres, pg_database, nullable, sslRootCert="", statementTimeout=60,
                                          dropTableOnDestroy=False), "orders")
    assert rejected.value.last_line.endswith('clustering_key column "city" must be NOT NULL (SQLSTATE 22023)')
    assert not table_exists(postgres, pg_database, TABLE)


def test_hologres_2_1_runs_the_create_table_with_clause(engine: Engine, postgres: PostgresServer,
                                                        pg_database: str) -> None:
    emulation.install(postgres, pg_database, "Hologres 2.1.20 (tag: 2.1.20)")
    proxy = emulation.WithClauseProxy(postgres)
    try:
        state = engine.up("orders", table_inputs(postgres, pg_database, HOLOGRES_TABLE, port=proxy.port,
                                                 sslmode="disable"))
    finally:
        proxy.close()
    columns = ", ".join(f'"{c.name}" {ddl.canonical_type(c.type)}{"" if c.nullable else " NOT NULL"}'
                        for c in HOLOGRES_TABLE.columns)
    # The provider's own statement text, executed (not captured and failed).
    assert proxy.rewritten == [
        f'CREATE TABLE "public"."{TABLE}" ({columns}, PRIMARY KEY ("user_id", "item_id")) WITH ('
        "orientation = 'column', distribution_key = 'user_id', clustering_key = 'sale_timestamp', "
        "event_time_column = 'sale_timestamp', bitmap_columns = 'province,\"Channel\"', "
        "dictionary_encoding_columns = 'province:on', time_to_live_in_seconds = '31536000', "
        "binlog_level = 'replica', binlog_ttl = '86400')"]
    assert catalog(postgres, pg_database, TABLE)["clustering_key"] == "sale_timestamp:asc"
    assert catalog(postgres, pg_database, TABLE)["binlog.level"] == "replica"
    assert state.outputs["unexplainedProperties"] == {} and len(live_columns(postgres, pg_database, TABLE)) == 12


def test_an_instance_before_0_10_is_still_hologres(engine: Engine, postgres: PostgresServer,
                                                   pg_database: str) -> None:
    emulation.install(postgres, pg_database, None)  # no hg_version()
    state = engine.up("orders", table_inputs(postgres, pg_database))
    assert state.outputs["hologresVersion"].startswith("Hologres before V0.10")
    assert state.outputs["unappliedProperties"] == []
    assert catalog(postgres, pg_database, "order_details")["segment_key"] == "sale_timestamp"


def test_a_catalog_value_the_program_cannot_read_is_a_warning_not_a_blocked_stack(
        engine: Engine, postgres: PostgresServer, pg_database: str, request: pytest.FixtureRequest) -> None:
    emulation.install(postgres, pg_database, "Hologres 3.1.4")
    proxy = emulation.WithClauseProxy(postgres)  # V2.1+: CREATE TABLE … WITH
    request.addfinalizer(proxy.close)
    inputs = table_inputs(postgres, pg_database, dropTableOnDestroy=True, port=proxy.port, sslmode="disable")
    state = engine.up("orders", inputs)
    assert "recycle bin" in state.outputs["onDestroy"]  # V3.1+: DROP keeps it for a day
    emulation.admin(postgres, pg_database, "UPDATE hg_emulation.props SET value = 'sale_timestamp:later' "
                                           "WHERE key = 'segment_key'")
    refreshed = engine.refresh("orders")
    assert refreshed.state is not None
    assert refreshed.state.outputs["unexplainedProperties"] == {"event_time_column": "sale_timestamp:later"}
    assert refreshed.drift is False  # not a replace: left alone
    engine.up("orders", inputs)
    assert engine.last_calls == ["check", "diff"]
    assert ("Hologres reports property event_time_column as 'sale_timestamp:later', which this program cannot "
            "interpret") in engine.host.output()


@pytest.fixture
def developer(postgres: PostgresServer, pg_database: str) -> Iterator[tuple[str, str]]:
    name = f"{pg_database}_dev_user"
    password = emulation.create_role(postgres, name)
    yield name, password
    emulation.admin(postgres, pg_database, f'REASSIGN OWNED BY "{name}" TO postgres')
    emulation.admin(postgres, pg_database, f'DROP OWNED BY "{name}"')
    emulation.admin(postgres, "postgres", f'DROP ROLE "{name}"')


def test_standard_authorization_as_a_role_that_does_not_own_the_database(
        provider_host: ProviderHost, postgres: PostgresServer, pg_database: str, developer: tuple[str, str]) -> None:
    emulation.install(postgres, pg_database, "Hologres 1.3.61")
    name, password = developer
    engine = engine_as(provider_host, name, password)
    inputs = table_inputs(postgres, pg_database, dropTableOnDestroy=True)
    with pytest.raises(ProviderError, match=r"permission denied for schema public \(SQLSTATE 42501\)"):
        engine.up("orders", inputs)
    emulation.admin(postgres, pg_database, f'GRANT CREATE, USAGE ON SCHEMA public TO "{name}"')
    engine.up("orders", inputs)
    assert query(postgres, pg_database, "SELECT tableowner FROM pg_tables WHERE tablename = 'order_details'") == [
        (name,)]
    engine.up("orders", table_inputs(postgres, pg_database, with_properties(
        ddl.DEFAULT_ORDER_DETAILS, bitmap_columns=("city:off",)), dropTableOnDestroy=True))
    assert "city" not in catalog(postgres, pg_database, "order_details")["bitmap_columns"].split(",")
    engine.destroy("orders")
    assert not table_exists(postgres, pg_database)


def test_simple_permission_model_developer_and_writer(provider_host: ProviderHost, postgres: PostgresServer,
                                                      pg_database: str, developer: tuple[str, str]) -> None:
    emulation.install(postgres, pg_database, "Hologres 2.0.30")
    emulation.enable_spm(postgres, pg_database)
    emulation.spm_grant(postgres, pg_database, "admin", postgres.user)  # the test inspects as the db admin
    name, password = developer
    engine = engine_as(provider_host, name, password)
    inputs = table_inputs(postgres, pg_database, dropTableOnDestroy=True)

    emulation.spm_grant(postgres, pg_database, "writer", name)  # reads and writes rows, creates nothing
    with pytest.raises(ProviderError, match=r"permission denied for schema public \(SQLSTATE 42501\)"):
        engine.up("orders", inputs)
    emulation.spm_grant(postgres, pg_database, "developer", name)
    engine.up("orders", inputs)
    # SPM: objects a developer creates belong to {db}_developer.
    assert query(postgres, pg_database, "SELECT tableowner FROM pg_tables WHERE tablename = 'order_details'") == [
        (f"{pg_database}_developer",)]
    engine.up("orders", table_inputs(postgres, pg_database, with_properties(
        ddl.DEFAULT_ORDER_DETAILS, time_to_live_in_seconds=86400), dropTableOnDestroy=True))
    assert catalog(postgres, pg_database, "order_details")["time_to_live_in_seconds"] == "86400"
    engine.destroy("orders")
    assert not table_exists(postgres, pg_database)
    emulation.drop_spm_groups(postgres, pg_database)


def test_a_column_taken_out_of_the_declaration_goes_back_to_the_default(
        engine: Engine, postgres: PostgresServer, pg_database: str) -> None:
    emulation.install(postgres, pg_database, "Hologres 1.3.61")
    indexed = with_properties(ddl.DEFAULT_ORDER_DETAILS, bitmap_columns=("user_id", "city:off"))
    engine.up("orders", table_inputs(postgres, pg_database, indexed))
    bitmaps = catalog(postgres, pg_database, "order_details")["bitmap_columns"].split(",")
    assert "user_id" in bitmaps and "city" not in bitmaps
    # Neither is declared any more: user_id (bigint) loses its index, city (TEXT) gets Hologres' default back.
    preview = engine.preview("orders", table_inputs(postgres, pg_database))
    assert preview.diff is not None and preview.diff.changes == "some" and preview.diff.replaces == []
    engine.up("orders", table_inputs(postgres, pg_database))
    bitmaps = catalog(postgres, pg_database, "order_details")["bitmap_columns"].split(",")
    assert "user_id" not in bitmaps and "city" in bitmaps
    engine.up("orders", table_inputs(postgres, pg_database))
    assert engine.last_calls == ["check", "diff"]


def test_a_date_primary_key_before_1_3_22_is_refused_before_create(engine: Engine, postgres: PostgresServer,
                                                                   pg_database: str) -> None:
    emulation.install(postgres, pg_database, "Hologres 1.3.10")
    dated = ddl.TableSpec("public", "daily", (ddl.Column("day", "DATE", nullable=False), ddl.Column("n", "BIGINT")),
                          ("day",))
    with pytest.raises(ProviderError, match="Hologres 1.3 takes no DATE column in a primary key"):
        engine.up("daily", table_inputs(postgres, pg_database, dated))
    assert not table_exists(postgres, pg_database, "daily")
    # The emulation enforces the same limit itself.
    with pytest.raises(Exception, match="primary key does not support the column type"):
        query(postgres, pg_database, "CREATE TABLE public.daily (day date PRIMARY KEY)")


def transactions_of(postgres: PostgresServer, offset: int) -> list[list[str]]:
    """The statements each backend ran inside BEGIN … COMMIT/ROLLBACK, from the server's statement log."""
    assert postgres.log_file is not None
    blocks: dict[str, list[str]] = {}
    done: list[list[str]] = []
    with postgres.log_file.open(errors="replace") as log:
        log.seek(offset)
        for line in log:
            if "LOG:  statement: " not in line:
                continue
            pid = line.split("[", 1)[1].split("]", 1)[0]
            statement = line.split("LOG:  statement: ", 1)[1].strip()
            if statement == "BEGIN":
                blocks[pid] = []
            elif statement in ("COMMIT", "ROLLBACK") and pid in blocks:
                done.append(blocks.pop(pid))
            elif pid in blocks:
                blocks[pid].append(statement)
    return done


def test_catalog_reads_never_share_a_transaction_with_ddl(engine: Engine, postgres: PostgresServer,
                                                          pg_database: str) -> None:
    if postgres.log_file is None:
        missing("the throwaway PostgreSQL's statement log")
    emulation.install(postgres, pg_database, "Hologres 1.3.61")
    emulation.admin(postgres, pg_database, f'ALTER DATABASE "{pg_database}" SET log_statement = \'all\'')
    offset = postgres.log_file.stat().st_size
    engine.up("orders", table_inputs(postgres, pg_database, dropTableOnDestroy=True))
    engine.up("orders", table_inputs(postgres, pg_database, with_properties(
        ddl.DEFAULT_ORDER_DETAILS, time_to_live_in_seconds=86400), dropTableOnDestroy=True))
    engine.refresh("orders")
    engine.destroy("orders")
    time.sleep(0.5)  # the logging collector writes asynchronously
    blocks = transactions_of(postgres, offset)
    # create (CREATE + properties + marker), update (one property), destroy (DROP): DDL only, no reads.
    assert [[s.split(" ", 2)[:2] for s in block] for block in blocks] == [
        [["CREATE", "TABLE"], ["CALL", "set_table_property('\"public\".\"order_details\"',"], ["COMMENT", "ON"]],
        [["CALL", "set_table_property('\"public\".\"order_details\"',"]],
        [["DROP", "TABLE"]]]
