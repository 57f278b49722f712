"""Hologres table properties as Hologres keeps them: names, values, check rules, catalog read-back.

Pure: no Pulumi, no I/O. Sources (Alibaba Cloud docs):
- SET_TABLE_PROPERTY: https://www.alibabacloud.com/help/en/hologres/developer-reference/set-table-property
- CREATE TABLE (WITH from V2.1, rules per property):
  https://www.alibabacloud.com/help/en/hologres/developer-reference/create-tables
- dictionary encoding (col:on|off|auto; TEXT columns default auto from V0.9):
  https://www.alibabacloud.com/help/en/hologres/user-guide/dictionary-encoding
- bitmap index (col:on|off; every TEXT column of a column table by default):
  https://www.alibabacloud.com/help/en/hologres/user-guide/bitmap-indexes
- storage orientation (column default; row needs a PK; no bitmap/dictionary on row tables):
  https://www.alibabacloud.com/help/en/hologres/user-guide/storage-models-of-tables

Wire form: list properties are lists of ``col`` or ``col:suffix`` strings, the rest scalars.
Bitmap and dictionary entries are *per column*: only the columns a declaration names are compared
and changed, each with ``col:on`` / ``col:off`` (dictionary also ``col:auto``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# Hologres property name → (HologresProperties field, kind). Kinds: "list" of columns, "orientation",
# "binlog_level", "seconds". The catalog and set_table_property use these names.
PROPERTY_FIELDS: dict[str, tuple[str, str]] = {
    "orientation": ("orientation", "orientation"),
    "distribution_key": ("distribution_key", "list"),
    "clustering_key": ("clustering_key", "list"),
    "event_time_column": ("event_time_column", "list"),
    "bitmap_columns": ("bitmap_columns", "list"),
    "dictionary_encoding_columns": ("dictionary_encoding_columns", "list"),
    "time_to_live_in_seconds": ("time_to_live_in_seconds", "seconds"),
    "binlog.level": ("binlog_level", "binlog_level"),
    "binlog.ttl": ("binlog_ttl", "seconds"),
}
# The catalog keeps event_time_column under its old name segment_key.
PROPERTY_ALIASES = {"segment_key": "event_time_column", "binlog_level": "binlog.level", "binlog_ttl": "binlog.ttl"}
# Changeable after creation (set_table_property on a live table); all others need a new table.
MUTABLE_PROPERTIES = frozenset({"time_to_live_in_seconds", "bitmap_columns", "dictionary_encoding_columns",
                                "binlog.level", "binlog.ttl"})
PER_COLUMN = frozenset({"bitmap_columns", "dictionary_encoding_columns"})
# In CREATE TABLE … WITH (…) (Hologres V2.1+) the binlog properties are spelled with "_".
WITH_NAMES = {"binlog.level": "binlog_level", "binlog.ttl": "binlog_ttl"}
# Hologres writes the hybrid orientation as "column,row"; both spellings mean the same.
ORIENTATIONS = {"column": "column", "row": "row", "row,column": "row,column", "column,row": "row,column"}
SUFFIXES = {"distribution_key": (), "event_time_column": (), "clustering_key": ("asc", "desc"),
            "bitmap_columns": ("on", "off"), "dictionary_encoding_columns": ("on", "off", "auto")}
# A bare entry means this suffix (clustering ascending; an index named without a state is on).
DEFAULT_SUFFIX = {"clustering_key": "asc", "bitmap_columns": "on", "dictionary_encoding_columns": "on"}
# Property values are comma-separated text; names holding these characters cannot be written in it.
_PROPERTY_LIST_SPECIALS = frozenset(',:"')
_SIMPLE_NAME = re.compile(r"[a-z_][a-z0-9_]*")
# Types the rules of finding 6 name (canonical spellings, see hologres_ddl.canonical_type).
_FLOATS = frozenset({"real", "double precision"})


def entry_column(entry: str) -> str:
    return entry.partition(":")[0]


def normalize_property(key: str, kind: str, value: Any, columns: Mapping[str, str] | None) -> Any:
    """A declared value in wire form; ValueError with one readable reason otherwise."""
    if kind == "orientation":
        text = ",".join(p.strip() for p in value.lower().split(",")) if isinstance(value, str) else None
        if text not in ORIENTATIONS:
            raise ValueError("must be column, row or row,column")
        return ORIENTATIONS[text]
    if kind == "binlog_level":
        if not isinstance(value, str) or value.lower() not in ("none", "replica"):
            raise ValueError("must be none or replica")
        return value.lower()
    if kind == "seconds":
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # numbers cross the wire as floats
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError("must be a positive number of seconds")
        return value
    # Hologres' own spelling "a, b" is accepted too; a list keeps names exactly as given.
    entries = [e.strip() for e in value.split(",")] if isinstance(value, str) else value
    if not isinstance(entries, list) or not entries or not all(isinstance(e, str) for e in entries):
        raise ValueError("must be a non-empty list of column names")
    result = []
    for entry in entries:
        name, _, suffix = entry.partition(":")
        allowed = SUFFIXES[key]
        if suffix and suffix.lower() not in allowed:
            raise ValueError(f"{entry!r}: the suffix must be one of {', '.join(allowed) or '(none)'}")
        if columns is not None and name not in columns:
            raise ValueError(f"column {name!r} is not among the columns")
        if _PROPERTY_LIST_SPECIALS & set(name):
            raise ValueError(f"column {name!r}: names used in Hologres properties cannot contain , : or \"")
        result.append(f"{name}:{suffix.lower()}" if suffix else name)
    if len({entry_column(e) for e in result}) != len(result):
        raise ValueError("lists a column twice")
    return result


def rule_problems(props: Mapping[str, Any], columns: Mapping[str, str], nullable: Mapping[str, bool],
                  pk: list[str]) -> list[tuple[str, str]]:
    """The rules Hologres enforces inside CREATE TABLE, caught before anything is sent.

    (property path, reason) for each broken rule; ``props`` are normalized, all known.
    """
    problems: list[tuple[str, str]] = []
    orientation = props.get("orientation", "column")
    if orientation in ("row", "row,column") and not pk:
        problems.append(("properties.orientation", "a row-oriented Hologres table needs a primary key"))
    if orientation == "row":
        for key in sorted(PER_COLUMN & set(props)):
            if any(_state(key, e) != "off" for e in props[key]):
                problems.append((f"properties.{key}", "a row-oriented table takes no bitmap or dictionary columns "
                                                      "(use orientation column or row,column)"))
    distribution = [entry_column(e) for e in props.get("distribution_key", [])]
    if pk and not set(distribution) <= set(pk):
        problems.append(("properties.distribution_key", f"must be a subset of the primary key ({', '.join(pk)})"))
    for key in ("clustering_key", "event_time_column"):
        for name in (entry_column(e) for e in props.get(key, [])):
            if nullable.get(name, False):
                problems.append((f"properties.{key}", f"column {name!r} must be NOT NULL (Hologres requires it "
                                                      "from V1.3.28); declare it with nullable false"))
            elif key == "clustering_key" and columns.get(name) in _FLOATS:
                problems.append((f"properties.{key}", f"column {name!r} is {columns[name]}; Hologres takes no "
                                                      "float or double in a clustering key"))
    if props.get("binlog.level") == "replica" and not pk:
        problems.append(("properties.binlog.level", "Hologres keeps a binlog only for tables with a primary key"))
    return problems


def _state(key: str, entry: str) -> str:
    _, _, suffix = entry.partition(":")
    return suffix or DEFAULT_SUFFIX[key]


def column_states(key: str, value: Any) -> dict[str, str]:
    """Per-column property → {column: state}; a bare name has the default state."""
    return {entry_column(e): _state(key, e) for e in value or []}


def property_value(key: str, value: Any) -> str:
    """A property's value as set_table_property / WITH (…) take it: comma-separated text."""
    kind = PROPERTY_FIELDS[key][1]
    if kind != "list":
        return str(value)
    return ",".join(_property_column(e) for e in value)


def _property_column(entry: str) -> str:
    # Hologres folds unquoted names in property lists to lower case, like SQL: quote the others.
    # (Names with , : " were refused by the check, so the quotes cannot be broken out of.)
    name, colon, suffix = entry.partition(":")
    quoted = name if _SIMPLE_NAME.fullmatch(name) else f'"{name}"'
    return f"{quoted}{colon}{suffix}"


class Unexplained(ValueError):
    """A catalog value in a form this program cannot read: reported, never acted upon."""


def parse_catalog_property(key: str, text: str) -> Any:
    """A value from hologres.hg_table_properties in the wire form, as the catalog writes it
    (clustering ``col:asc``, orientation ``column,row``, quoted names). Raises Unexplained."""
    kind = PROPERTY_FIELDS[key][1]
    text = text.strip()
    if kind == "list":
        entries = []
        for raw in (e.strip() for e in text.split(",") if e.strip()):
            name, colon, suffix = raw.partition(":")
            name = name[1:-1] if len(name) > 1 and name[0] == name[-1] == '"' else name
            if '"' in name or (suffix and suffix.lower() not in SUFFIXES[key]):
                raise Unexplained(text)
            entries.append(f"{name}{colon}{suffix.lower()}")
        return entries
    if kind == "orientation":
        canonical = ORIENTATIONS.get(",".join(p.strip() for p in text.lower().split(",")))
        if canonical is None:
            raise Unexplained(text)
        return canonical
    if kind == "seconds":
        if not text.isdigit():
            raise Unexplained(text)
        return int(text)
    if text.lower() not in ("none", "replica"):
        raise Unexplained(text)
    return text.lower()


def comparable(key: str, value: Any) -> Any:
    """Values compared by meaning: default suffixes spelled out, per-column lists as states."""
    if PROPERTY_FIELDS[key][1] != "list" or not isinstance(value, list):
        return value
    if key in PER_COLUMN:
        return column_states(key, value)
    default = DEFAULT_SUFFIX.get(key)
    return [e if ":" in e or default is None else f"{e}:{default}" for e in value]


def declared_difference(key: str, live: Any, declared: Any) -> Any:
    """What of ``declared`` the live value lacks, or None: per-column properties compare only the
    columns declared (a column absent from the live list is off), others the whole value."""
    if key not in PER_COLUMN:
        return None if comparable(key, live) == comparable(key, declared) else declared
    live_states = column_states(key, live)
    changed = [f"{column}:{state}" for column, state in column_states(key, declared).items()
               if live_states.get(column, "off") != state]
    return changed or None


def default_state(key: str, column_type: str, orientation: str | None) -> str:
    """What Hologres gives a column it was not told about (bitmap index doc: every TEXT column of a
    column-store table; dictionary encoding doc: TEXT columns auto from V0.9)."""
    if column_type != "text" or orientation == "row":
        return "off"
    return "on" if key == "bitmap_columns" else "auto"


def with_undeclared(key: str, declared: list[str] | None, previous: list[str] | None,
                    types: Mapping[str, str], orientation: str | None) -> list[str] | None:
    """A per-column declaration plus, for each column the previous declaration named and this one
    no longer does, that column back at Hologres' default: taking a column out of the declaration
    undoes what declaring it did."""
    named = set(column_states(key, declared))
    dropped = [c for c in column_states(key, previous) if c not in named and c in types]
    if not dropped:
        return declared
    return [*(declared or []), *(f"{c}:{default_state(key, types[c], orientation)}" for c in dropped)]
