"""The Hologres table, as data: spec, validation, DDL rendering and change classification.

Pure: no Pulumi and no I/O. psycopg2.sql only *composes* statements (identifiers always as
sql.Identifier, values as query parameters); the provider in components.hologres_table runs them.

Wire format (the dynamic resource's properties, camelCase like every Pulumi state):
``schemaName``, ``tableName``, ``columns`` ([{name, type, nullable}]), ``primaryKey`` ([names]),
``properties`` (Hologres property names as Hologres spells them: ``orientation``,
``distribution_key``, ``clustering_key``, ``event_time_column`` (alias ``segment_key``),
``bitmap_columns``, ``dictionary_encoding_columns``, ``time_to_live_in_seconds``,
``binlog.level`` (alias ``binlog_level``), ``binlog.ttl`` (alias ``binlog_ttl``)).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from psycopg2 import sql

from components.hologres_names import MAX_IDENTIFIER_BYTES, identifier_problem, parse_table_name
from components.hologres_properties import (
    MUTABLE_PROPERTIES,
    PROPERTY_ALIASES,
    PROPERTY_FIELDS,
    WITH_NAMES,
    declared_difference,
    normalize_property,
    parse_catalog_property,
    property_value,
    rule_problems,
)
from components.hologres_types import canonical_type, pk_capable

__all__ = ["MAX_IDENTIFIER_BYTES", "PROPERTY_FIELDS", "canonical_type", "identifier_problem",
           "parse_catalog_property", "parse_table_name", "pk_capable"]  # re-exported for callers of this module

Problem = tuple[str, str]  # (property path, reason): one check failure
# (statement, parameters). Statements that embed identifiers take no parameters (see
# render_create_table); run them with parameters None so that no "%" is interpolated.
Statement = tuple[sql.Composable, tuple[Any, ...]]

DEFAULT_TABLE = "public.order_details"
MAX_COLUMNS = 1600

# Engine property names of the table part of the resource.
SCHEMA, TABLE, COLUMNS, PRIMARY_KEY, PROPERTIES = "schemaName", "tableName", "columns", "primaryKey", "properties"
TABLE_KEYS = (SCHEMA, TABLE, COLUMNS, PRIMARY_KEY, PROPERTIES)

# --- spec ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True)
class HologresProperties:
    """Hologres table properties; None/() means "not set" (the server's default applies).

    Column-list entries may carry Hologres' suffixes: ``col:asc|desc`` (clustering_key),
    ``col:on|off`` (bitmap_columns), ``col:on|off|auto`` (dictionary_encoding_columns).
    """

    orientation: str | None = None  # column | row | row,column
    distribution_key: tuple[str, ...] = ()
    clustering_key: tuple[str, ...] = ()
    event_time_column: tuple[str, ...] = ()  # formerly segment_key
    bitmap_columns: tuple[str, ...] = ()
    dictionary_encoding_columns: tuple[str, ...] = ()
    time_to_live_in_seconds: int | None = None
    binlog_level: str | None = None  # none | replica
    binlog_ttl: int | None = None


@dataclass(frozen=True)
class TableSpec:
    schema: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    properties: HologresProperties = field(default_factory=HologresProperties)

    @property
    def qualified_name(self) -> str:
        return f"{self.schema}.{self.name}"

    def with_name(self, qualified: str) -> TableSpec:
        schema, name = parse_table_name(qualified)
        return replace(self, schema=schema, name=name)


# The tutorial job's sink table as Alibaba documents it.
DEFAULT_ORDER_DETAILS = TableSpec(
    schema="public",
    name="order_details",
    columns=(
        Column("user_id", "BIGINT", nullable=False),
        Column("user_name", "TEXT"),
        Column("item_id", "BIGINT", nullable=False),
        Column("item_name", "TEXT"),
        Column("price", "NUMERIC(38,2)"),
        Column("province", "TEXT"),
        Column("city", "TEXT"),
        Column("longitude", "TEXT"),
        Column("latitude", "TEXT"),
        Column("ip", "TEXT"),
        Column("sale_timestamp", "TIMESTAMPTZ", nullable=False),
    ),
    primary_key=("user_id", "item_id"),
    properties=HologresProperties(event_time_column=("sale_timestamp",)),
)

def spec_to_props(spec: TableSpec) -> dict[str, Any]:
    """The wire format of a spec (what the dynamic resource sends to its provider)."""
    props: dict[str, Any] = {}
    for key, (attr, kind) in PROPERTY_FIELDS.items():
        value = getattr(spec.properties, attr)
        if value not in (None, ()):
            props[key] = list(value) if kind == "list" else value
    return {
        SCHEMA: spec.schema,
        TABLE: spec.name,
        COLUMNS: [{"name": c.name, "type": c.type, "nullable": c.nullable} for c in spec.columns],
        PRIMARY_KEY: list(spec.primary_key),
        PROPERTIES: props,
    }


def hologres_properties(props: Mapping[str, Any]) -> HologresProperties:
    """HologresProperties from normalized wire-format ``properties`` (by Hologres name)."""
    return HologresProperties(**{PROPERTY_FIELDS[k][0]: _wire_value(v) for k, v in props.items()
                                 if k in PROPERTY_FIELDS})


def _wire_value(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    # Numbers cross the gRPC wire as floats: 86400 arrives as 86400.0.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def spec_from_props(props: Mapping[str, Any]) -> TableSpec:
    """A spec from (checked) wire-format properties."""
    return TableSpec(
        schema=props[SCHEMA],
        name=props[TABLE],
        columns=tuple(Column(c["name"], c["type"], bool(c.get("nullable", True))) for c in props[COLUMNS]),
        primary_key=tuple(props.get(PRIMARY_KEY) or ()),
        properties=hologres_properties(props.get(PROPERTIES) or {}),
    )


def set_properties(spec: TableSpec) -> dict[str, Any]:
    """The Hologres properties a spec sets, by Hologres name."""
    return dict(spec_to_props(spec)[PROPERTIES])


# --- validation ---------------------------------------------------------------------------------


def _never_unknown(_value: Any) -> bool:
    return False


def check_table(
    props: Mapping[str, Any], is_unknown: Callable[[Any], bool] = _never_unknown
) -> tuple[dict[str, Any], list[Problem]]:
    """Validate and normalize the table part of the wire format.

    Returns the normalized properties (canonical types, PK columns NOT NULL, property aliases
    resolved, defaults filled) and the problems, each naming its property. Values for which
    ``is_unknown`` is true (Pulumi preview) are accepted as they are and skip the checks that
    depend on them.
    """
    out = dict(props)
    problems: list[Problem] = []
    out.setdefault(SCHEMA, "public")
    out.setdefault(PRIMARY_KEY, [])
    out.setdefault(PROPERTIES, {})
    for key in (SCHEMA, TABLE):
        value = out.get(key)
        if not is_unknown(value) and (problem := identifier_problem(value)):
            problems.append((key, problem))

    columns = _check_columns(out, problems, is_unknown)  # None: not (fully) known
    pk = _check_primary_key(out, columns, problems, is_unknown)
    _check_properties(out, columns, pk, problems, is_unknown)
    return out, problems


def _check_columns(out: dict[str, Any], problems: list[Problem], is_unknown: Callable[[Any], bool]
                   ) -> dict[str, str] | None:
    """Normalize ``columns`` in place; returns {name: canonical type} when all are known."""
    raw = out.get(COLUMNS)
    if is_unknown(raw):
        return None
    if not isinstance(raw, list) or not raw:
        problems.append((COLUMNS, "must be a non-empty list of {name, type, nullable}"))
        return None
    if len(raw) > MAX_COLUMNS:
        problems.append((COLUMNS, f"at most {MAX_COLUMNS} columns"))
    known: dict[str, str] | None = {}
    normalized = []
    for i, column in enumerate(raw):
        path = f"{COLUMNS}[{i}]"
        if is_unknown(column) or not isinstance(column, Mapping):
            if not is_unknown(column):
                problems.append((path, "must be an object {name, type, nullable}"))
            normalized.append(column)
            known = None
            continue
        column = dict(column)
        if extra := sorted(set(column) - {"name", "type", "nullable"}):
            problems.append((path, f"unknown field(s) {', '.join(extra)}"))
        name, declared = column.get("name"), column.get("type")
        column.setdefault("nullable", True)
        if is_unknown(name) or is_unknown(declared):
            known = None
        else:
            if problem := identifier_problem(name):
                problems.append((f"{path}.name", problem))
            elif known is not None and name in known:
                problems.append((f"{path}.name", f"duplicate column {name!r}"))
            try:
                if not isinstance(declared, str):
                    raise ValueError("must be a type name such as BIGINT, TEXT or NUMERIC(38,2)")
                column["type"] = canonical_type(declared)
                if column["type"] == "numeric":
                    raise ValueError(f"type {declared!r}: give DECIMAL/NUMERIC a precision and scale, e.g. "
                                     "NUMERIC(38,2) (Hologres may keep a bare numeric as numeric(38,0))")
            except ValueError as err:
                problems.append((f"{path}.type", str(err)))
            if known is not None and isinstance(name, str):
                known[name] = column["type"]
        if not is_unknown(column["nullable"]) and not isinstance(column["nullable"], bool):
            problems.append((f"{path}.nullable", "must be true or false"))
        normalized.append(column)
    out[COLUMNS] = normalized
    return known


def _check_primary_key(out: dict[str, Any], columns: dict[str, str] | None, problems: list[Problem],
                       is_unknown: Callable[[Any], bool]) -> list[str] | None:
    pk = out.get(PRIMARY_KEY)
    if is_unknown(pk) or (isinstance(pk, list) and any(is_unknown(c) for c in pk)):
        return None
    if not isinstance(pk, list) or not all(isinstance(c, str) for c in pk):
        problems.append((PRIMARY_KEY, "must be a list of column names"))
        return None
    if len(set(pk)) != len(pk):
        problems.append((PRIMARY_KEY, "lists a column twice"))
    if columns is None:
        return pk
    for name in pk:
        if name not in columns:
            problems.append((PRIMARY_KEY, f"column {name!r} is not among the columns"))
        elif not pk_capable(columns[name]):
            problems.append((PRIMARY_KEY, f"column {name!r} has type {columns[name]}, which Hologres "
                                          "does not allow in a primary key (no float, double, numeric, json, bytea, "
                                          "interval, arrays)"))
    # A primary key makes its columns NOT NULL: say so in the spec, so the catalog matches it.
    for column in out[COLUMNS]:
        if isinstance(column, dict) and column.get("name") in pk:
            column["nullable"] = False
    return pk


def _check_properties(out: dict[str, Any], columns: dict[str, str] | None, pk: list[str] | None,
                      problems: list[Problem], is_unknown: Callable[[Any], bool]) -> None:
    raw = out.get(PROPERTIES)
    if is_unknown(raw):
        return
    if not isinstance(raw, Mapping):
        problems.append((PROPERTIES, "must be an object of Hologres table properties"))
        return
    normalized: dict[str, Any] = {}
    for given, value in raw.items():
        key = PROPERTY_ALIASES.get(given, given)
        path = f"{PROPERTIES}.{given}"
        if key not in PROPERTY_FIELDS:
            problems.append((path, f"unknown Hologres table property; known: {', '.join(PROPERTY_FIELDS)}"))
            continue
        if key in normalized:
            problems.append((path, f"set twice (as {key} and an alias)"))
        if is_unknown(value):
            normalized[key] = value
            continue
        kind = PROPERTY_FIELDS[key][1]
        try:
            normalized[key] = normalize_property(key, kind, value, columns)
        except ValueError as err:
            problems.append((path, str(err)))
    out[PROPERTIES] = normalized
    if pk is None or columns is None or any(is_unknown(v) for v in normalized.values()):
        return
    nullable = {c["name"]: c.get("nullable") is not False for c in out[COLUMNS] if isinstance(c, Mapping)}
    problems.extend(rule_problems(normalized, columns, nullable, pk))


# --- rendering ----------------------------------------------------------------------------------


def table_identifier(schema: str, name: str) -> sql.Identifier:
    return sql.Identifier(schema, name)


def _column_definition(column: Column) -> sql.Composable:
    # The type is an allowlisted canonical name (canonical_type), never user text passed through.
    return sql.SQL("{} {}{}").format(sql.Identifier(column.name), sql.SQL(canonical_type(column.type)),
                                     sql.SQL("" if column.nullable else " NOT NULL"))


def render_create_table(spec: TableSpec, with_properties: bool) -> Statement:
    """``CREATE TABLE … (…, PRIMARY KEY (…))``, with Hologres V2.1's ``WITH (…)`` if asked."""
    parts = [_column_definition(c) for c in spec.columns]
    if spec.primary_key:
        parts.append(sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, spec.primary_key))))
    statement = sql.SQL("CREATE TABLE {} ({})").format(table_identifier(spec.schema, spec.name),
                                                       sql.SQL(", ").join(parts))
    props = set_properties(spec)
    if with_properties and props:
        # Values as sql.Literal (psycopg2's own adaptation), not %s parameters: psycopg2 interpolates
        # parameters over the whole composed text, so a "%" inside a quoted name would be read as one.
        statement = sql.SQL("{} WITH ({})").format(statement, sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.SQL(WITH_NAMES.get(k, k)), sql.Literal(property_value(k, v)))
            for k, v in props.items()))  # allowlisted property names
    return statement, ()


def render_set_table_property(table_ref: str, key: str, value: Any) -> Statement:
    """``CALL set_table_property('<table>', '<key>', '<value>')``; ``table_ref`` is the quoted
    qualified name as text (sql.Identifier(...).as_string(conn)), which the procedure expects."""
    return sql.SQL("CALL set_table_property(%s, %s, %s)"), (table_ref, key, property_value(key, value))


def render_add_columns(spec: TableSpec, columns: Iterable[Column]) -> Statement:
    return sql.SQL("ALTER TABLE {} {}").format(
        table_identifier(spec.schema, spec.name),
        sql.SQL(", ").join(sql.SQL("ADD COLUMN {}").format(_column_definition(c)) for c in columns)), ()


def render_drop_table(schema: str, name: str) -> Statement:
    # RESTRICT: never take dependent views or foreign keys along silently.
    return sql.SQL("DROP TABLE IF EXISTS {} RESTRICT").format(table_identifier(schema, name)), ()


# --- changes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    property: str  # wire path, e.g. "columns", "properties.distribution_key"
    description: str  # "old → new"
    replace: bool  # needs a new table (else ALTER / set_table_property in place)


def _describe_column(column: Column | None) -> str:
    if column is None:
        return "absent"
    return f"{canonical_type(column.type)}{'' if column.nullable else ' NOT NULL'}"


def classify(old: TableSpec, new: TableSpec, *, compare_properties: bool = True,
             unexplained: Iterable[str] = ()) -> list[Change]:
    """What it takes to turn table ``old`` into ``new``.

    In place: a new nullable column (appended), mutable Hologres properties (TTL, bitmap and
    dictionary columns, binlog). Everything else needs a new table: name, a column's type or
    nullability, a removed or NOT NULL new column, the primary key, orientation, distribution /
    clustering / event-time keys. Columns are matched by name, so their order never matters.
    Hologres properties that ``new`` does not set are left alone (the server's default or the
    value the table already has), and of bitmap / dictionary columns only those ``new`` names.
    ``unexplained``: properties whose live value could not be read; never a change (the caller warns).
    """
    changes: list[Change] = []
    if (old.schema, old.name) != (new.schema, new.name):
        changes.append(Change(TABLE, f"{old.qualified_name} → {new.qualified_name}", True))
    olds = {c.name: c for c in old.columns}
    news = {c.name: c for c in new.columns}
    for name in [*olds, *(n for n in news if n not in olds)]:
        before, after = olds.get(name), news.get(name)
        if _describe_column(before) != _describe_column(after):
            in_place = before is None and after is not None and after.nullable
            changes.append(Change(f"{COLUMNS}.{name}", f"column {name!r}: {_describe_column(before)} → "
                                                       f"{_describe_column(after)}", not in_place))
    if old.primary_key != new.primary_key:
        changes.append(Change(PRIMARY_KEY, f"primary key ({', '.join(old.primary_key)}) → "
                                           f"({', '.join(new.primary_key)})", True))
    if compare_properties:
        before_props, skip = set_properties(old), set(unexplained)
        for key, value in set_properties(new).items():
            if key not in skip and (wanted := declared_difference(key, before_props.get(key), value)) is not None:
                changes.append(Change(f"{PROPERTIES}.{key}", f"{key}: {before_props.get(key)!r} → {wanted!r}",
                                      key not in MUTABLE_PROPERTIES))
    return changes


def new_columns(old: TableSpec, new: TableSpec) -> list[Column]:
    names = {c.name for c in old.columns}
    return [c for c in new.columns if c.name not in names]


def changed_mutable_properties(old: TableSpec, new: TableSpec, unexplained: Iterable[str] = ()) -> dict[str, Any]:
    """The set_table_property calls that bring ``old`` to ``new``: per-column entries for bitmap and
    dictionary columns (``col:on`` / ``col:off``), whole values otherwise."""
    before, skip = set_properties(old), set(unexplained)
    wanted = {k: declared_difference(k, before.get(k), v) for k, v in set_properties(new).items()
              if k in MUTABLE_PROPERTIES and k not in skip}
    return {k: v for k, v in wanted.items() if v is not None}


# --- ownership marker ---------------------------------------------------------------------------
# Each create writes a fresh generation into the table's comment; a delete drops the table only
# while the comment still names its own generation. So when a create-before-delete replacement
# adopts the same table, the old resource's delete leaves it to the new one.
_MARKER = re.compile(r"\s*\[managed by pulumi flink-hologres: generation ([0-9a-f]+)\]")


def marker_generation(comment: str | None) -> str | None:
    match = _MARKER.search(comment or "")
    return match[1] if match else None


def render_marker(schema: str, name: str, comment: str | None, generation: str) -> Statement:
    """``COMMENT ON TABLE`` keeping the user's text, with this resource's generation."""
    text = _MARKER.sub("", comment or "")
    marked = f"{text} [managed by pulumi flink-hologres: generation {generation}]".strip()
    return sql.SQL("COMMENT ON TABLE {} IS {}").format(table_identifier(schema, name), sql.Literal(marked)), ()
