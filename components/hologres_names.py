"""Hologres names: one table name that the job's connector and the table provider resolve alike.

Pure: no Pulumi, no I/O.

The job hands ``HOLO_TABLE_NAME`` to the Hologres connector, which resolves it with holo-client's
``TableName.valueOf`` (aliyun/alibabacloud-hologres-connectors,
holo-client/src/main/java/com/alibaba/hologres/client/model/TableName.java at commit
f4b79b58e5402ba78168b6284cff00e1369d579b: ``parseMultiIdentifier`` and ``IDENTIFIER_PATTERN``).
:func:`resolve_table_name` restates those rules (not the code):

- the text splits at ``.`` into at most two parts, schema and table (one part: schema ``public``);
- a part in double quotes is kept exactly (``""`` stands for one ``"``); the closing quote must be
  followed by ``.`` or the end;
- an unquoted part is lower-cased (ASCII ``A-Z`` only) and must match
  ``^[^"\\s\\d\\-;][^"\\s\\-;]*$``: no quote, whitespace, ``-`` or ``;``, and no digit first;
- an empty unquoted part before a dot is an error, a trailing dot is ignored.

The provider creates the table from the same resolution, so whatever the connector accepts
names the same table on both sides. On top of it the provider refuses what it cannot create
faithfully (an empty part, more than 63 bytes, NUL) and control characters (the name travels
through an environment variable and the job's SQL).
"""

from __future__ import annotations

import re
from typing import Any

DEFAULT_SCHEMA = "public"
MAX_IDENTIFIER_BYTES = 63  # PostgreSQL/Hologres silently truncate longer names: refuse them instead
_QUOTE, _SPLIT = '"', "."
# holo-client's IDENTIFIER_PATTERN; Java's \s is ASCII whitespace only (no UNICODE_CHARACTER_CLASS),
# and Java's "$" also matches before a final line terminator (refused below as a control character).
_UNQUOTED = re.compile(r'[^"\t\n\x0b\f\r \d\-;][^"\t\n\x0b\f\r \-;]*')
_LINE_ENDS = "\n\r\x85\u2028\u2029"
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


class InvalidTableName(ValueError):
    """holo-client would throw InvalidIdentifierException for this name."""


def _lower_ascii(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def _unquoted_part(text: str, whole: str) -> str:
    # Java's find() with ^…$: the part matches whole, or without one final line terminator.
    bare = text[:-2] if text.endswith("\r\n") else text[:-1] if text[-1:] in _LINE_ENDS else None
    if not _UNQUOTED.fullmatch(text) and not (bare and _UNQUOTED.fullmatch(bare)):
        raise InvalidTableName(whole)
    return text


def split_identifiers(name: str) -> list[str]:
    """holo-client's parseMultiIdentifier: the dotted parts of ``name``, resolved."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    i = 0
    while i < len(name):
        c = name[i]
        if quoted:
            if c != _QUOTE:
                current.append(c)
            elif i + 1 == len(name):
                parts.append("".join(current))
                current, quoted = [], False
            elif name[i + 1] == _QUOTE:
                current.append(_QUOTE)
                i += 1
            elif name[i + 1] == _SPLIT:
                parts.append("".join(current))
                current, quoted = [], False
                i += 1
            else:
                raise InvalidTableName(name)
        elif not current:
            if c == _QUOTE:
                quoted = True
            elif c == _SPLIT:
                raise InvalidTableName(name)
            else:
                current.append(_lower_ascii(c))
        elif c == _QUOTE:
            raise InvalidTableName(name)
        elif c == _SPLIT:
            parts.append(_unquoted_part("".join(current), name))
            current = []
        else:
            current.append(_lower_ascii(c))
        i += 1
    if quoted:
        raise InvalidTableName(name)
    if current:
        parts.append(_unquoted_part("".join(current), name))
    return parts


def resolve_table_name(name: str) -> tuple[str, str]:
    """(schema, table) exactly as holo-client's ``TableName.valueOf(name)`` resolves them."""
    parts = split_identifiers(name)
    if len(parts) == 1:
        return DEFAULT_SCHEMA, parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise InvalidTableName(name)


def identifier_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a table/column/schema name, or None. Names are always quoted in the
    DDL, so case, spaces, quotes and unicode are kept exactly as given."""
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    if "\x00" in value:
        return "must not contain NUL"
    if len(value.encode("utf-8")) > MAX_IDENTIFIER_BYTES:
        return f"is longer than {MAX_IDENTIFIER_BYTES} bytes (the server would silently truncate it)"
    return None


_HINT = ('unquoted names are lower-cased and take no spaces, "-", ";" or leading digit; quote the others, '
         'e.g. sales."Order Details"')


def parse_table_name(value: Any) -> tuple[str, str]:
    """``hologresTable`` → (schema, table), resolved as the job's connector resolves it.

    Raises ValueError with one readable reason for any name the connector would not resolve, or
    that the provider could not create as the same table.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must look like schema.table (e.g. {DEFAULT_SCHEMA}.order_details), got {value!r}")
    if _CONTROL.search(value):
        raise ValueError(f"{value!r} contains a control character")
    if value.endswith(".") and not value.endswith('".'):
        # holo-client ignores a trailing dot ("public." is public.public): surely a typo, so refused.
        raise ValueError(f"{value!r} ends with a dot; expected schema.table")
    try:
        schema, table = resolve_table_name(value)
    except InvalidTableName:
        raise ValueError(f"{value!r} is not a name the Hologres connector resolves (holo-client TableName: at "
                         f"most schema.table; {_HINT})") from None
    for what, part in (("schema", schema), ("table", table)):
        if problem := identifier_problem(part):
            raise ValueError(f"{value!r}: the {what} name {problem}")
    return schema, table


def quote_table_name(schema: str, table: str) -> str:
    """The form holo-client prints (TableName.getFullName): both parts double-quoted."""
    def quote(part: str) -> str:
        return '"' + part.replace('"', '""') + '"'
    return f"{quote(schema)}.{quote(table)}"
