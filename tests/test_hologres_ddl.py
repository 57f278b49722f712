"""components.hologres_ddl: types, validation, change classification, and the exact DDL it renders."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from components import hologres_ddl as ddl
from components.hologres_ddl import Column, HologresProperties, TableSpec

TUTORIAL = ddl.DEFAULT_ORDER_DETAILS


@pytest.mark.parametrize(("declared", "canonical"), [
    ("BIGINT", "bigint"), ("int8", "bigint"), ("INT", "integer"), ("int4", "integer"), ("smallint", "smallint"),
    ("TEXT", "text"), ("NUMERIC(38,2)", "numeric(38,2)"), ("decimal( 10 , 0 )", "numeric(10,0)"),
    ("numeric(12)", "numeric(12,0)"), ("numeric", "numeric"), ("VARCHAR(32)", "character varying(32)"),
    ("character varying", "character varying"), ("char", "character(1)"), ("CHAR(3)", "character(3)"),
    ("TIMESTAMPTZ", "timestamp with time zone"), ("timestamp", "timestamp without time zone"),
    ("Timestamp  With Time Zone", "timestamp with time zone"), ("float8", "double precision"),
    ("float", "double precision"), ("float4", "real"), ("bool", "boolean"), ("date", "date"),
    ("jsonb", "jsonb"), ("TEXT[]", "text[]"), ("int8[ ]", "bigint[]"), ("bytea", "bytea"),
])
def test_types_are_canonicalized_as_the_catalog_prints_them(declared: str, canonical: str) -> None:
    assert ddl.canonical_type(declared) == canonical


@pytest.mark.parametrize(("declared", "reason"), [
    ("NUMBERIC(38,2)", "unsupported type"), ("numeric(39,2)", "precision must be 1..38"),
    ("numeric(5,6)", "scale 0..precision"), ("varchar(0)", "length must be"), ("text(5)", "takes no parameters"),
    ("varchar(3,2)", "takes one length"), ("jsonb[]", "arrays hold only"), ("bigint; DROP TABLE x", "unsupported"),
    ("", "unsupported"), ("serial", "unsupported"),
])
def test_types_outside_the_allowlist_are_refused(declared: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        ddl.canonical_type(declared)


@pytest.mark.parametrize(("canonical", "capable"), [
    ("bigint", True), ("text", True), ("timestamp with time zone", True), ("character varying(3)", True),
    ("numeric(38,2)", False), ("real", False), ("double precision", False), ("json", False), ("jsonb", False),
    ("text[]", False),
])
def test_pk_capable_types(canonical: str, capable: bool) -> None:
    assert ddl.pk_capable(canonical) is capable


def test_default_table_is_the_tutorial_table_as_alibaba_documents_it() -> None:
    props = ddl.spec_to_props(TUTORIAL)
    normalized, problems = ddl.check_table(props)
    assert problems == []
    assert TUTORIAL.qualified_name == ddl.DEFAULT_TABLE == "public.order_details"
    assert [(c["name"], c["type"], c["nullable"]) for c in normalized[ddl.COLUMNS]] == [
        ("user_id", "bigint", False), ("user_name", "text", True), ("item_id", "bigint", False),
        ("item_name", "text", True), ("price", "numeric(38,2)", True), ("province", "text", True),
        ("city", "text", True), ("longitude", "text", True), ("latitude", "text", True), ("ip", "text", True),
        ("sale_timestamp", "timestamp with time zone", False),
    ]
    assert normalized[ddl.PRIMARY_KEY] == ["user_id", "item_id"]
    assert normalized[ddl.PROPERTIES] == {"event_time_column": ["sale_timestamp"]}
    assert ddl.spec_from_props(props) == TUTORIAL
    assert TUTORIAL.with_name("sales.orders").qualified_name == "sales.orders"


def test_check_normalizes_aliases_and_hologres_spelling() -> None:
    props = ddl.spec_to_props(TUTORIAL)
    props[ddl.COLUMNS][0]["nullable"] = True  # a primary key column is NOT NULL anyway
    props[ddl.PROPERTIES] = {"segment_key": "sale_timestamp", "binlog_level": "REPLICA", "binlog_ttl": 86400.0,
                             "bitmap_columns": "province, city", "orientation": "column,row"}
    normalized, problems = ddl.check_table(props)
    assert problems == []
    assert normalized[ddl.COLUMNS][0]["nullable"] is False
    assert normalized[ddl.PROPERTIES] == {"event_time_column": ["sale_timestamp"], "binlog.level": "replica",
                                          "binlog.ttl": 86400, "bitmap_columns": ["province", "city"],
                                          "orientation": "row,column"}


def _problems(**changes: Any) -> list[ddl.Problem]:
    props = ddl.spec_to_props(TUTORIAL)
    props.update(changes)
    return ddl.check_table(props)[1]


def test_check_names_each_problem() -> None:
    columns = ddl.spec_to_props(TUTORIAL)[ddl.COLUMNS]
    assert _problems(columns=[*columns, {"name": "ip", "type": "text"}]) == [
        ("columns[11].name", "duplicate column 'ip'")]
    assert _problems(primaryKey=["user_id", "price"])[0][0] == ddl.PRIMARY_KEY
    assert "does not allow in a primary key" in _problems(primaryKey=["price"])[0][1]
    assert _problems(properties={"distribution_key": ["user_name"]}) == [
        ("properties.distribution_key", "must be a subset of the primary key (user_id, item_id)")]
    assert _problems(properties={"clustering_key": ["sale_timestamp:up"]})[0][0] == "properties.clustering_key"
    assert _problems(properties={"time_to_live_in_seconds": True})[0][0] == "properties.time_to_live_in_seconds"
    assert _problems(columns=[*columns, {"name": "a,b", "type": "text"}],
                     properties={"bitmap_columns": ["a,b"]})[0][0] == "properties.bitmap_columns"
    assert _problems(columns=[{"name": "x", "type": "text", "default": "1"}]) == [
        ("columns[0]", "unknown field(s) default"), ("primaryKey", "column 'user_id' is not among the columns"),
        ("primaryKey", "column 'item_id' is not among the columns"),
        ("properties.event_time_column", "column 'sale_timestamp' is not among the columns")]


def test_unknown_values_are_accepted_and_skip_dependent_checks() -> None:
    unknown = object()
    props = ddl.spec_to_props(TUTORIAL)
    props[ddl.COLUMNS][1] = unknown
    props[ddl.TABLE] = unknown
    props[ddl.PROPERTIES] = {"distribution_key": unknown}
    normalized, problems = ddl.check_table(props, lambda v: v is unknown)
    assert problems == []
    assert normalized[ddl.COLUMNS][1] is unknown and normalized[ddl.TABLE] is unknown


def _spec(**changes: Any) -> TableSpec:
    return dataclasses.replace(TUTORIAL, **changes)


def _props(**changes: Any) -> TableSpec:
    return _spec(properties=dataclasses.replace(TUTORIAL.properties, **changes))


WITH_NOTE = _spec(columns=(*TUTORIAL.columns, Column("note", "TEXT")))


@pytest.mark.parametrize(("old", "new", "expected"), [
    (TUTORIAL, TUTORIAL, []),
    (TUTORIAL, _spec(columns=tuple(reversed(TUTORIAL.columns))), []),  # order never matters
    (TUTORIAL, WITH_NOTE, [("columns.note", False)]),
    (TUTORIAL, _spec(columns=(*TUTORIAL.columns, Column("note", "TEXT", nullable=False))), [("columns.note", True)]),
    (WITH_NOTE, TUTORIAL, [("columns.note", True)]),
    (TUTORIAL, _spec(columns=tuple(Column(c.name, "TEXT" if c.name == "price" else c.type, c.nullable)
                                   for c in TUTORIAL.columns)), [("columns.price", True)]),
    (TUTORIAL, _spec(columns=tuple(Column(c.name, c.type, c.name != "ip" and c.nullable)
                                   for c in TUTORIAL.columns)), [("columns.ip", True)]),
    (TUTORIAL, _spec(primary_key=("user_id",)), [("primaryKey", True)]),
    (TUTORIAL, _spec(name="orders"), [("tableName", True)]),
    (TUTORIAL, _props(orientation="row"), [("properties.orientation", True)]),
    (TUTORIAL, _props(distribution_key=("user_id",)), [("properties.distribution_key", True)]),
    (TUTORIAL, _props(clustering_key=("sale_timestamp",)), [("properties.clustering_key", True)]),
    (TUTORIAL, _props(event_time_column=("user_id",)), [("properties.event_time_column", True)]),
    (TUTORIAL, _props(time_to_live_in_seconds=86400), [("properties.time_to_live_in_seconds", False)]),
    (TUTORIAL, _props(bitmap_columns=("city",)), [("properties.bitmap_columns", False)]),
    (TUTORIAL, _props(dictionary_encoding_columns=("city:auto",)), [("properties.dictionary_encoding_columns", False)]),
    (TUTORIAL, _props(binlog_level="replica", binlog_ttl=3600),
     [("properties.binlog.level", False), ("properties.binlog.ttl", False)]),
    (_props(time_to_live_in_seconds=60), TUTORIAL, []),  # no longer set: left as it is
    (_props(bitmap_columns=("city:on", "ip:on"), clustering_key=("sale_timestamp:asc",)),
     _props(bitmap_columns=("ip", "city"), clustering_key=("sale_timestamp",)), []),  # same meaning
])
def test_classify(old: TableSpec, new: TableSpec, expected: list[tuple[str, bool]]) -> None:
    assert [(c.property, c.replace) for c in ddl.classify(old, new)] == expected


def test_classify_describes_old_and_new() -> None:
    [change] = ddl.classify(WITH_NOTE, TUTORIAL)
    assert change.description == "column 'note': text → absent"


# --- rendering, quoted by libpq itself (hence a real connection) -----------------------------------

FULL = _spec(name="Order Details", properties=HologresProperties(
    orientation="column", distribution_key=("user_id",), clustering_key=("sale_timestamp:asc",),
    event_time_column=("sale_timestamp",), bitmap_columns=("province", "city"),
    dictionary_encoding_columns=("province:auto",), time_to_live_in_seconds=3153600000,
    binlog_level="replica", binlog_ttl=86400))
TUTORIAL_COLUMNS_SQL = (
    '"user_id" bigint NOT NULL, "user_name" text, "item_id" bigint NOT NULL, "item_name" text, '
    '"price" numeric(38,2), "province" text, "city" text, "longitude" text, "latitude" text, "ip" text, '
    '"sale_timestamp" timestamp with time zone NOT NULL, PRIMARY KEY ("user_id", "item_id")')


@pytest.fixture(scope="module")
def cursor(postgres: Any) -> Any:
    conn = postgres.connect()
    yield conn.cursor()
    conn.close()


def _text(cursor: Any, statement: ddl.Statement) -> str:
    query, params = statement
    return cursor.mogrify(query, params or None).decode()


def test_create_table_statement(cursor: Any) -> None:
    assert _text(cursor, ddl.render_create_table(TUTORIAL, with_properties=False)) == (
        f'CREATE TABLE "public"."order_details" ({TUTORIAL_COLUMNS_SQL})')
    assert _text(cursor, ddl.render_create_table(FULL, with_properties=True)) == (
        f'CREATE TABLE "public"."Order Details" ({TUTORIAL_COLUMNS_SQL}) WITH (orientation = \'column\', '
        "distribution_key = 'user_id', clustering_key = 'sale_timestamp:asc', event_time_column = 'sale_timestamp', "
        "bitmap_columns = 'province,city', dictionary_encoding_columns = 'province:auto', "
        "time_to_live_in_seconds = '3153600000', binlog_level = 'replica', binlog_ttl = '86400')")


def test_names_holding_percent_signs_are_never_taken_for_placeholders(cursor: Any) -> None:
    spec = _spec(columns=(Column("%s", "TEXT"), Column("%(x)s", "TEXT")), primary_key=(),
                 properties=HologresProperties(bitmap_columns=("%s",)))
    assert _text(cursor, ddl.render_create_table(spec, with_properties=True)) == (
        'CREATE TABLE "public"."order_details" ("%s" text, "%(x)s" text) WITH (bitmap_columns = \'"%s"\')')


def test_set_table_property_quotes_names_like_hologres(cursor: Any) -> None:
    ref = ddl.table_identifier("public", "Order Details").as_string(cursor)
    statement = ddl.render_set_table_property(ref, "bitmap_columns", ["province", "Sales Channel", "it's"])
    assert _text(cursor, statement) == (
        'CALL set_table_property(\'"public"."Order Details"\', \'bitmap_columns\', '
        '\'province,"Sales Channel","it\'\'s"\')')


def test_alter_and_drop_statements(cursor: Any) -> None:
    added = ddl.render_add_columns(TUTORIAL, [Column("note", "varchar(8)"), Column("Qty", "INT", nullable=False)])
    assert _text(cursor, added) == ('ALTER TABLE "public"."order_details" ADD COLUMN "note" character varying(8), '
                                    'ADD COLUMN "Qty" integer NOT NULL')
    assert _text(cursor, ddl.render_drop_table("public", 'x"; DROP TABLE y; --')) == (
        'DROP TABLE IF EXISTS "public"."x""; DROP TABLE y; --" RESTRICT')
