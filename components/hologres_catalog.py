"""Reading a Hologres (or plain PostgreSQL) server: what it is, and a table as its catalog describes it.

Every function here only reads, on a connection in autocommit mode: Hologres documents DDL-only
transactions (DDL mixed with DML is rejected) and says nothing of reads before DDL, so reads never
share a transaction with the provider's DDL (components.hologres_table runs that).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from components import hologres_ddl as ddl
from components.hologres_properties import PROPERTY_ALIASES, PROPERTY_FIELDS, Unexplained, parse_catalog_property

Connection = psycopg2.extensions.connection


class HologresVersion(NamedTuple):
    text: str
    major: int
    minor: int
    patch: int = 0

    def at_least(self, *version: int) -> bool:
        return (self.major, self.minor, self.patch) >= tuple(version) + (0,) * (3 - len(version))


def server_version(conn: Connection) -> HologresVersion | None:
    """The Hologres version, or None on plain PostgreSQL.

    ``hg_version()`` exists from Hologres V0.10; older instances are recognised by ``version()``
    naming Hologres or by the ``hologres.hg_table_properties`` catalog, and reported as 0.0.
    """
    try:
        text = _scalar(conn, "SELECT hg_version()")
    except psycopg2.errors.UndefinedFunction:
        text = None
    if text is not None:
        match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
        return HologresVersion(text, int(match[1]), int(match[2]), int(match[3] or 0)) if match else \
            HologresVersion(text, 0, 0)
    banner = str(_scalar(conn, "SELECT version()"))
    if "hologres" in banner.lower() or _scalar(conn, "SELECT to_regclass('hologres.hg_table_properties')"):
        return HologresVersion(f"Hologres before V0.10 ({banner})", 0, 0)
    return None


def _scalar(conn: Connection, statement: str) -> Any:
    with conn.cursor() as cur:
        cur.execute(statement)
        return cur.fetchone()[0]


def tls_state(conn: Connection, sslmode: str) -> str:
    """The effective protection of the admin connection, e.g. "TLSv1.3 (sslmode require)"."""
    if not conn.info.ssl_in_use:
        return f"off: plaintext (sslmode {sslmode})"
    protocol = conn.info.ssl_attribute("protocol") or "TLS"
    checked = {"verify-full": "certificate and host name verified", "verify-ca": "certificate verified"}
    detail = checked.get(sslmode, "server certificate not verified")
    return f"{protocol}, {detail} (sslmode {sslmode})"


_TABLE_OID = """
SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p')"""
_COLUMNS = """
SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
FROM pg_catalog.pg_attribute a WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum"""
_PRIMARY_KEY = """
SELECT a.attname FROM pg_catalog.pg_constraint k
CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
JOIN pg_catalog.pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
WHERE k.conrelid = %s AND k.contype = 'p' ORDER BY u.ord"""
_PROPERTIES = """
SELECT property_key, property_value FROM hologres.hg_table_properties
WHERE table_namespace = %s AND table_name = %s"""
_COMMENT = "SELECT pg_catalog.obj_description(%s, 'pg_class')"


@dataclass(frozen=True)
class LiveTable:
    spec: ddl.TableSpec
    # Properties whose catalog value this program cannot read: {property: value as the catalog has it}.
    unexplained: dict[str, str] = field(default_factory=dict)
    comment: str | None = None


def live_table(conn: Connection, schema: str, name: str, version: HologresVersion | None) -> LiveTable | None:
    """The table as the catalog describes it, or None if there is none."""
    with conn.cursor() as cur:
        cur.execute(_TABLE_OID, (schema, name))
        row = cur.fetchone()
        if row is None:
            return None
        oid = row[0]
        cur.execute(_COLUMNS, (oid,))
        columns = tuple(ddl.Column(n, t, nullable) for n, t, nullable in cur.fetchall())
        cur.execute(_PRIMARY_KEY, (oid,))
        primary_key = tuple(n for (n,) in cur.fetchall())
        cur.execute(_COMMENT, (oid,))
        comment = cur.fetchone()[0]
        properties: dict[str, Any] = {}
        unexplained: dict[str, str] = {}
        if version is not None:
            cur.execute(_PROPERTIES, (schema, name))
            for key, value in cur.fetchall():
                key = PROPERTY_ALIASES.get(key, key)
                if key not in PROPERTY_FIELDS or value in (None, ""):
                    continue  # properties this program does not manage (table_group, storage_format, …)
                try:
                    properties[key] = parse_catalog_property(key, value)
                except Unexplained:
                    unexplained[key] = value
    spec = ddl.TableSpec(schema, name, columns, primary_key, ddl.hologres_properties(properties))
    return LiveTable(spec, unexplained, comment)
