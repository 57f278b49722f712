"""Hologres column types: the allowlist, and each type as the catalog's format_type() prints it.

Pure: no Pulumi, no I/O. Limits from Alibaba Cloud's CREATE TABLE and data type pages
(https://www.alibabacloud.com/help/en/hologres/developer-reference/create-tables).
"""

from __future__ import annotations

import re

# --- column types -------------------------------------------------------------------------------
# alias → (name as PostgreSQL's format_type() prints it, parameter kind). Canonical names let a
# declared type be compared with what the catalog reports, so unchanged columns never show a diff.
_NONE, _LENGTH, _NUMERIC = "none", "length", "numeric"
_TYPES: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("smallint", "int2"), ("smallint", _NONE)),
    **dict.fromkeys(("integer", "int", "int4"), ("integer", _NONE)),
    **dict.fromkeys(("bigint", "int8"), ("bigint", _NONE)),
    **dict.fromkeys(("real", "float4"), ("real", _NONE)),
    **dict.fromkeys(("double precision", "float8", "float"), ("double precision", _NONE)),
    **dict.fromkeys(("numeric", "decimal"), ("numeric", _NUMERIC)),
    **dict.fromkeys(("boolean", "bool"), ("boolean", _NONE)),
    "text": ("text", _NONE),
    **dict.fromkeys(("character varying", "varchar"), ("character varying", _LENGTH)),
    **dict.fromkeys(("character", "char"), ("character", _LENGTH)),
    "date": ("date", _NONE),
    **dict.fromkeys(("timestamp", "timestamp without time zone"), ("timestamp without time zone", _NONE)),
    **dict.fromkeys(("timestamptz", "timestamp with time zone"), ("timestamp with time zone", _NONE)),
    **dict.fromkeys(("time", "time without time zone"), ("time without time zone", _NONE)),
    **dict.fromkeys(("timetz", "time with time zone"), ("time with time zone", _NONE)),
    "interval": ("interval", _NONE),
    "json": ("json", _NONE),
    "jsonb": ("jsonb", _NONE),
    "bytea": ("bytea", _NONE),
}
# Hologres supports arrays of these only.
_ARRAY_ELEMENTS = frozenset({"integer", "bigint", "real", "double precision", "boolean", "text"})
# Hologres refuses these in a primary key (CREATE TABLE limits; DATE only before V1.3.22, checked
# by the provider, which knows the version).
_NOT_PK_CAPABLE = frozenset({"real", "double precision", "numeric", "json", "jsonb", "bytea", "interval"})
_MAX_NUMERIC_PRECISION = 38  # Hologres DECIMAL
_MAX_LENGTH = 10_485_760
_TYPE_RE = re.compile(
    r"(?P<base>[a-z][a-z0-9 ]*?)\s*(?:\(\s*(?P<p>\d+)\s*(?:,\s*(?P<s>\d+)\s*)?\))?\s*(?P<array>\[\s*\])?")


def canonical_type(declared: str) -> str:
    """The allowlisted type as format_type() prints it, e.g. 'NUMERIC(38, 2)' → 'numeric(38,2)'.

    Raises ValueError with a readable reason for anything else.
    """
    text = " ".join(str(declared).lower().split())
    match = _TYPE_RE.fullmatch(text)
    if not match or match["base"] not in _TYPES:
        raise ValueError(f"unsupported type {declared!r}; use one of: {', '.join(sorted(set(_TYPES)))}")
    name, kind = _TYPES[match["base"]]
    p, s = match["p"], match["s"]
    if kind == _NONE and p is not None:
        raise ValueError(f"type {declared!r}: {name} takes no parameters")
    if kind == _LENGTH:
        if s is not None:
            raise ValueError(f"type {declared!r}: {name} takes one length")
        if p is not None and not 1 <= int(p) <= _MAX_LENGTH:
            raise ValueError(f"type {declared!r}: length must be 1..{_MAX_LENGTH}")
        if p is not None or name == "character":  # bare char means char(1)
            name = f"{name}({int(p or 1)})"
    if kind == _NUMERIC and p is not None:
        precision, scale = int(p), int(s or 0)
        if not 1 <= precision <= _MAX_NUMERIC_PRECISION or scale > precision:
            raise ValueError(f"type {declared!r}: precision must be 1..{_MAX_NUMERIC_PRECISION} "
                             "and scale 0..precision")
        name = f"numeric({precision},{scale})"
    if match["array"]:
        if _TYPES[match["base"]][0] not in _ARRAY_ELEMENTS:
            raise ValueError(f"type {declared!r}: Hologres arrays hold only {', '.join(sorted(_ARRAY_ELEMENTS))}")
        name += "[]"
    return name


def pk_capable(canonical: str) -> bool:
    base = canonical.split("(")[0]
    return not canonical.endswith("[]") and base not in _NOT_PK_CAPABLE


# --- names --------------------------------------------------------------------------------------
