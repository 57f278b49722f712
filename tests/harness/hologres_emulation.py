"""A Hologres emulation inside a real PostgreSQL database (shared harness).

Hologres speaks PostgreSQL 11's protocol; what it adds for tables is ``set_table_property``, the
``hologres.hg_table_properties`` catalog, ``hg_version()`` and rules enforced at CREATE TABLE.
:func:`install` builds those in a test database, as documented (each behaviour cites its page),
so that the provider under test meets what a real instance answers, not an echo:

- values stored as the catalog writes them and defaults filled in (:data:`CATALOG_VIEW`);
- create-only properties, NOT NULL / float / row-table / binlog / key-type rules enforced by the
  emulation itself (:data:`SET_TABLE_PROPERTY`, :data:`CREATE_TABLE_RULES`);
- the V2.1 ``CREATE TABLE … WITH (…)`` text executed through :class:`WithClauseProxy`, which
  hands each such statement, unchanged, to a PL/pgSQL procedure that runs it;
- the simple permission model's groups (:func:`enable_spm`).

Event triggers need a superuser: installed with ``postgres.connect(admin=True)``.
"""

from __future__ import annotations

import secrets
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from psycopg2 import sql

from tests.harness.postgres import PostgresServer

SET_TABLE_PROPERTY_DOC = "https://www.alibabacloud.com/help/en/hologres/developer-reference/set-table-property"
CREATE_TABLE_DOC = "https://www.alibabacloud.com/help/en/hologres/developer-reference/create-tables"
DEFAULT_TTL = "3153600000"  # CREATE TABLE doc: time_to_live_in_seconds defaults to 100 years

SCHEMA = """
CREATE SCHEMA hg_emulation;
CREATE SCHEMA hologres;
CREATE TABLE hg_emulation.settings (version text, spm boolean NOT NULL DEFAULT false);
-- Explicitly set properties (normalised) and per-column index states, by table.
CREATE TABLE hg_emulation.props (relid oid, key text, value text, PRIMARY KEY (relid, key));
CREATE TABLE hg_emulation.column_flags (relid oid, key text, col text, state text, PRIMARY KEY (relid, key, col));
-- Names in property values: unquoted when simple, like Hologres prints them.
CREATE FUNCTION hg_emulation.q(name text) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE WHEN name ~ '^[a-z_][a-z0-9_]*$' THEN name ELSE '"' || name || '"' END $$;
GRANT USAGE ON SCHEMA hologres TO PUBLIC;
"""

HG_VERSION = """
CREATE FUNCTION public.hg_version() RETURNS text LANGUAGE sql STABLE AS
$$ SELECT version FROM hg_emulation.settings $$;
"""

# set_table_property: SET_TABLE_PROPERTY doc (orientation, clustering_key, segment_key and distribution_key
# "only in the same transaction as the CREATE TABLE statement"; bitmap/dictionary/TTL any time; names
# fold to lower case unless quoted); bitmap index doc https://www.alibabacloud.com/help/en/hologres/user-guide/bitmap-indexes
# (col:on|off); dictionary encoding doc https://www.alibabacloud.com/help/en/hologres/user-guide/dictionary-encoding
# (col:on|off|auto); clustering key doc https://www.alibabacloud.com/help/en/hologres/user-guide/clustering-key
# (col:asc|desc, default asc; NOT NULL from V1.3.28; no float/double); event time column doc
# https://www.alibabacloud.com/help/en/hologres/user-guide/event-time-column (formerly segment_key; NOT NULL
# from V1.3.28); storage orientation doc https://www.alibabacloud.com/help/en/hologres/user-guide/storage-models-of-tables
# (row needs a primary key, and takes no bitmap/dictionary; hybrid is kept as column,row); distribution key doc
# https://www.alibabacloud.com/help/en/hologres/user-guide/distribution-key (a subset of the primary key);
# binlog doc https://www.alibabacloud.com/help/en/hologres/user-guide/subscribe-to-hologres-binlogs (tables with a
# primary key only).
SET_TABLE_PROPERTY = """
CREATE PROCEDURE public.set_table_property(table_ref text, property text, value text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    rel oid := to_regclass(table_ref);
    key text := lower(property);
    entry text; col text; state text; att record; normalised text[] := '{}';
    pk text[]; orientation text;
BEGIN
    IF rel IS NULL THEN
        RAISE EXCEPTION 'relation "%" does not exist', table_ref USING ERRCODE = '42P01';
    END IF;
    IF NOT pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = rel), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', table_ref USING ERRCODE = '42501';
    END IF;
    IF key = 'event_time_column' THEN key := 'segment_key'; END IF;  -- kept under its old name
    IF key = 'binlog_level' THEN key := 'binlog.level'; END IF;
    IF key = 'binlog_ttl' THEN key := 'binlog.ttl'; END IF;
    IF key NOT IN ('orientation', 'distribution_key', 'clustering_key', 'segment_key', 'bitmap_columns',
                   'dictionary_encoding_columns', 'time_to_live_in_seconds', 'binlog.level', 'binlog.ttl') THEN
        RAISE EXCEPTION 'unsupported table property: %', property USING ERRCODE = '22023';
    END IF;
    IF key IN ('orientation', 'distribution_key', 'clustering_key', 'segment_key')
            AND (SELECT xmin FROM pg_class WHERE oid = rel)::text <> (txid_current() % 4294967296)::text THEN
        RAISE EXCEPTION '% can only be set in the transaction that creates the table', key USING ERRCODE = '0A000';
    END IF;
    SELECT array_agg(a.attname ORDER BY u.ord) INTO pk FROM pg_constraint k
        CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
        WHERE k.conrelid = rel AND k.contype = 'p';
    orientation := coalesce((SELECT p.value FROM hg_emulation.props p WHERE p.relid = rel AND p.key = 'orientation'),
                            'column');
    IF key = 'orientation' THEN
        value := lower(replace(value, ' ', ''));
        IF value NOT IN ('column', 'row', 'row,column', 'column,row') THEN
            RAISE EXCEPTION 'invalid orientation: %', value USING ERRCODE = '22023';
        END IF;
        IF value <> 'column' AND pk IS NULL THEN
            RAISE EXCEPTION 'a row-oriented table must have a primary key' USING ERRCODE = '22023';
        END IF;
        IF value = 'row' AND EXISTS (SELECT FROM hg_emulation.column_flags f
                                     WHERE f.relid = rel AND f.state <> 'off') THEN
            RAISE EXCEPTION 'row-oriented tables do not support bitmap or dictionary columns' USING ERRCODE = '22023';
        END IF;
        IF value = 'row,column' THEN value := 'column,row'; END IF;
    ELSIF key IN ('distribution_key', 'clustering_key', 'segment_key', 'bitmap_columns',
                  'dictionary_encoding_columns') THEN
        FOREACH entry IN ARRAY string_to_array(value, ',') LOOP
            entry := btrim(entry);
            IF entry ~ '^"' THEN
                col := substring(entry FROM '^"([^"]*)"');
                state := lower(nullif(substring(entry FROM '^"[^"]*":(.*)$'), ''));
            ELSE
                col := lower(split_part(entry, ':', 1));
                state := lower(nullif(split_part(entry, ':', 2), ''));
            END IF;
            SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS typ, a.attnotnull INTO att
                FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'column "%" does not exist', col USING ERRCODE = '42703';
            END IF;
            IF key IN ('clustering_key', 'segment_key') AND NOT att.attnotnull
                    AND hg_emulation.at_least(1, 3, 28) THEN
                RAISE EXCEPTION '% column "%" must be NOT NULL', key, col USING ERRCODE = '22023';
            END IF;
            IF key = 'clustering_key' AND att.typ IN ('real', 'double precision') THEN
                RAISE EXCEPTION 'clustering_key does not support column "%" of type %', col, att.typ
                    USING ERRCODE = '22023';
            END IF;
            IF key = 'distribution_key' AND pk IS NOT NULL AND NOT col = ANY (pk) THEN
                RAISE EXCEPTION 'distribution_key must be a subset of the primary key' USING ERRCODE = '22023';
            END IF;
            IF key = 'clustering_key' THEN
                state := coalesce(state, 'asc');  -- the catalog spells the default order out
                IF state NOT IN ('asc', 'desc') THEN
                    RAISE EXCEPTION 'invalid order %', state USING ERRCODE = '22023';
                END IF;
                normalised := normalised || (hg_emulation.q(col) || ':' || state);
            ELSIF key IN ('bitmap_columns', 'dictionary_encoding_columns') THEN
                state := coalesce(state, 'on');
                IF state NOT IN ('on', 'off') AND NOT (key = 'dictionary_encoding_columns' AND state = 'auto') THEN
                    RAISE EXCEPTION 'invalid value % for %', state, key USING ERRCODE = '22023';
                END IF;
                IF orientation = 'row' AND state <> 'off' THEN
                    RAISE EXCEPTION 'row-oriented tables do not support %', key USING ERRCODE = '22023';
                END IF;
                INSERT INTO hg_emulation.column_flags VALUES (rel, key, col, state)
                    ON CONFLICT ON CONSTRAINT column_flags_pkey DO UPDATE SET state = EXCLUDED.state;
            ELSE
                IF state IS NOT NULL THEN RAISE EXCEPTION 'invalid entry %', entry USING ERRCODE = '22023'; END IF;
                normalised := normalised || hg_emulation.q(col);
            END IF;
        END LOOP;
        IF key IN ('bitmap_columns', 'dictionary_encoding_columns') THEN
            RETURN;  -- per column: merged into the flags above
        END IF;
        value := array_to_string(normalised, ',');
    ELSIF key IN ('time_to_live_in_seconds', 'binlog.ttl') THEN
        IF value !~ '^\\d+$' THEN RAISE EXCEPTION 'invalid % %', key, value USING ERRCODE = '22023'; END IF;
    ELSIF key = 'binlog.level' THEN
        value := lower(value);
        IF value NOT IN ('none', 'replica') THEN
            RAISE EXCEPTION 'invalid binlog.level %', value USING ERRCODE = '22023';
        END IF;
        IF value = 'replica' AND pk IS NULL THEN
            RAISE EXCEPTION 'binlog requires a primary key' USING ERRCODE = '22023';
        END IF;
    END IF;
    INSERT INTO hg_emulation.props VALUES (rel, key, value)
        ON CONFLICT ON CONSTRAINT props_pkey DO UPDATE SET value = EXCLUDED.value;
END $$;
CREATE FUNCTION hg_emulation.at_least(major int, minor int, patch int) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT coalesce(string_to_array(substring(version FROM '(\\d+\\.\\d+\\.\\d+)'), '.')::int[]
                    >= ARRAY[major, minor, patch], false) FROM hg_emulation.settings $$;
"""

# The catalog: explicit values as normalised above, and what Hologres fills in (CREATE TABLE doc:
# orientation column by default, distribution_key = the primary key, time_to_live_in_seconds 100 years;
# bitmap index doc: every TEXT column of a column(-including) table gets a bitmap; dictionary encoding doc:
# from V0.9 every TEXT column is auto).
CATALOG_VIEW = """
CREATE VIEW hologres.hg_table_properties (table_namespace, table_name, property_key, property_value) AS
WITH t AS (
    SELECT c.oid, n.nspname::text AS nspname, c.relname::text AS relname,
           coalesce((SELECT p.value FROM hg_emulation.props p WHERE p.relid = c.oid AND p.key = 'orientation'),
                    'column') AS orientation,
           (SELECT string_agg(hg_emulation.q(a.attname), ',' ORDER BY u.ord) FROM pg_constraint k
                CROSS JOIN LATERAL unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
                JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
                WHERE k.conrelid = c.oid AND k.contype = 'p') AS pk
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'hg_emulation', 'hologres')
), cols AS (
    SELECT t.oid, a.attname::text AS col, a.attnum, a.atttypid = 'text'::regtype AND t.orientation <> 'row' AS indexed
    FROM t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
), flags AS (
    SELECT cols.oid, k.key, cols.col, cols.attnum,
           coalesce(f.state, CASE WHEN cols.indexed THEN CASE k.key WHEN 'bitmap_columns' THEN 'on' ELSE 'auto' END
                                  ELSE 'off' END) AS state
    FROM cols CROSS JOIN (VALUES ('bitmap_columns'), ('dictionary_encoding_columns')) AS k(key)
    LEFT JOIN hg_emulation.column_flags f ON f.relid = cols.oid AND f.key = k.key AND f.col = cols.col
)
SELECT nspname, relname, 'orientation', orientation FROM t
UNION ALL
SELECT t.nspname, t.relname, p.key, p.value
    FROM t JOIN hg_emulation.props p ON p.relid = t.oid AND p.key <> 'orientation'
UNION ALL
SELECT nspname, relname, 'distribution_key', pk FROM t
    WHERE pk IS NOT NULL
      AND NOT EXISTS (SELECT FROM hg_emulation.props p WHERE p.relid = t.oid AND p.key = 'distribution_key')
UNION ALL
SELECT nspname, relname, 'time_to_live_in_seconds', '""" + DEFAULT_TTL + """' FROM t
    WHERE NOT EXISTS (SELECT FROM hg_emulation.props p WHERE p.relid = t.oid AND p.key = 'time_to_live_in_seconds')
UNION ALL
SELECT t.nspname, t.relname, f.key,
       string_agg(hg_emulation.q(f.col) || CASE WHEN f.key = 'bitmap_columns' THEN '' ELSE ':' || f.state END, ','
                  ORDER BY f.attnum)
    FROM t JOIN flags f ON f.oid = t.oid WHERE f.state <> 'off' GROUP BY t.nspname, t.relname, f.key;
GRANT SELECT ON hologres.hg_table_properties TO PUBLIC;
"""

# CREATE TABLE doc, Limits: no FLOAT, DOUBLE, NUMERIC, ARRAY, JSON (nor bytea, interval) in a primary key;
# DATE from V1.3.22. SPM functions doc https://www.alibabacloud.com/help/en/hologres/security-and-compliance/functions-of-the-spm:
# "Objects created by {db}_admin or {db}_developer members are owned by {db}_developer".
CREATE_TABLE_RULES = """
CREATE FUNCTION hg_emulation.create_table_rules() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    created record; bad text; developer text := current_database() || '_developer';
BEGIN
    FOR created IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE'
                                                                      AND object_type = 'table' LOOP
        SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ') INTO bad
            FROM pg_constraint k CROSS JOIN LATERAL unnest(k.conkey) AS u(attnum)
            JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
            WHERE k.conrelid = created.objid AND k.contype = 'p'
              AND (a.atttypid IN ('real'::regtype, 'double precision'::regtype, 'numeric'::regtype, 'json'::regtype,
                                  'jsonb'::regtype, 'bytea'::regtype, 'interval'::regtype)
                   OR a.attndims > 0
                   OR (a.atttypid = 'date'::regtype AND NOT hg_emulation.at_least(1, 3, 22)));
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'primary key does not support the column type(s): %', bad USING ERRCODE = '0A000';
        END IF;
        IF (SELECT spm FROM hg_emulation.settings) THEN
            EXECUTE format('ALTER TABLE %s OWNER TO %I', created.objid::regclass, developer);
        END IF;
    END LOOP;
END $$;
CREATE EVENT TRIGGER hg_create_table_rules ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
    EXECUTE FUNCTION hg_emulation.create_table_rules();
"""

# V2.1's CREATE TABLE … WITH (property = 'value', …) (CREATE TABLE doc): PostgreSQL rejects these storage
# parameters, so WithClauseProxy passes the provider's statement text, unchanged, to this procedure: it
# runs the CREATE without its WITH clause and then each property through set_table_property, in the
# statement's own transaction (what V2.1 does in one statement).
CREATE_WITH = """
CREATE PROCEDURE hg_emulation.create_table_with(statement text) LANGUAGE plpgsql AS $$
DECLARE
    parts text[] := regexp_match(statement, '^(CREATE TABLE (.+?) \\(.*\\)) WITH \\((.*)\\)$');
    pair text[];
BEGIN
    IF parts IS NULL THEN
        RAISE EXCEPTION 'emulation cannot parse: %', statement USING ERRCODE = '42601';
    END IF;
    EXECUTE parts[1];
    FOR pair IN SELECT regexp_matches(parts[3], '([a-z_.]+) = ''((?:[^'']|'''')*)''', 'g') LOOP
        CALL public.set_table_property(parts[2], pair[1], replace(pair[2], '''''', ''''));
    END LOOP;
END $$;
GRANT EXECUTE ON PROCEDURE hg_emulation.create_table_with(text) TO PUBLIC;
GRANT USAGE ON SCHEMA hg_emulation TO PUBLIC;
"""


def install(postgres: PostgresServer, database: str, version: str | None) -> None:
    """The emulation in ``database``; ``version`` is what hg_version() says (None: an instance before
    V0.10, which has no hg_version())."""
    statements = [SCHEMA, SET_TABLE_PROPERTY, CATALOG_VIEW, CREATE_TABLE_RULES, CREATE_WITH]
    if version is not None:
        statements.append(HG_VERSION)
    conn = postgres.connect(database, admin=True)
    try:
        with conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
            cur.execute("INSERT INTO hg_emulation.settings (version) VALUES (%s)", (version or "0.9.0",))
            cur.execute("GRANT SELECT ON hg_emulation.settings, hg_emulation.props, hg_emulation.column_flags "
                        "TO PUBLIC")
    finally:
        conn.close()


def create_role(postgres: PostgresServer, name: str) -> str:
    """A login role with a random password (returned)."""
    password = secrets.token_hex(12)
    admin(postgres, "postgres", sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
        sql.Identifier(name), sql.Literal(password)))
    return password


def enable_spm(postgres: PostgresServer, database: str) -> None:
    """What spm_enable() does (SPM functions doc): the four groups, PUBLIC's rights revoked, {db}_admin
    owning the database and its schemas, USAGE for the groups and CREATE for {db}_developer."""
    groups = [f"{database}_{g}" for g in ("admin", "developer", "writer", "viewer")]
    for group in groups:
        admin(postgres, database, sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(group)))
    db, public = sql.Identifier(database), sql.Identifier("public")
    statements = [
        sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db),
        sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(public),
        sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, sql.Identifier(groups[0])),
        sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(public, sql.Identifier(groups[0])),
        sql.SQL("GRANT USAGE ON SCHEMA hologres, hg_emulation TO {}").format(
            sql.SQL(", ").join(map(sql.Identifier, groups))),
        *(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, sql.Identifier(g)) for g in groups),
        *(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(public, sql.Identifier(g)) for g in groups),
        sql.SQL("GRANT CREATE ON SCHEMA {} TO {}").format(public, sql.Identifier(groups[1])),
        sql.SQL("UPDATE hg_emulation.settings SET spm = true"),
    ]
    for statement in statements:
        admin(postgres, database, statement)


def drop_spm_groups(postgres: PostgresServer, database: str) -> None:
    """Test cleanup: the groups are cluster-wide roles."""
    for group in (f"{database}_{g}" for g in ("admin", "developer", "writer", "viewer")):
        role = sql.Identifier(group)
        admin(postgres, database, sql.SQL("REASSIGN OWNED BY {} TO postgres").format(role))
        admin(postgres, database, sql.SQL("DROP OWNED BY {}").format(role))
        admin(postgres, "postgres", sql.SQL("DROP ROLE {}").format(role))


def spm_grant(postgres: PostgresServer, database: str, group: str, user: str) -> None:
    """spm_grant('{db}_<group>', user): membership in the group."""
    admin(postgres, database, sql.SQL("GRANT {} TO {}").format(sql.Identifier(f"{database}_{group}"),
                                                              sql.Identifier(user)))


def admin(postgres: PostgresServer, database: str, statement: sql.Composable | str) -> None:
    conn = postgres.connect(database, admin=True)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


class WithClauseProxy:
    """A TCP relay in front of the test server that hands every simple-protocol ``CREATE TABLE … WITH (…)``
    statement to ``hg_emulation.create_table_with`` unchanged (as dollar-quoted text); all other bytes pass
    as they are. Only for plaintext connections (sslmode disable)."""

    def __init__(self, postgres: PostgresServer) -> None:
        self.upstream = (postgres.host, postgres.port)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.rewritten: list[str] = []
        self._closing = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._closing:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()
            threading.Thread(target=self._frontend, args=(client, server), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with _quiet():
                    s.shutdown(socket.SHUT_RDWR)

    def _frontend(self, client: socket.socket, server: socket.socket) -> None:
        reader = client.makefile("rb")
        try:
            # Untyped startup packets first (an SSLRequest is answered "N" by the server, then the startup).
            while True:
                length = struct.unpack("!I", _read(reader, 4))[0]
                body = _read(reader, length - 4)
                server.sendall(struct.pack("!I", length) + body)
                if struct.unpack("!I", body[:4])[0] != 80877103:  # not the SSLRequest code
                    break
            while True:
                kind = _read(reader, 1)
                length = struct.unpack("!I", _read(reader, 4))[0]
                body = _read(reader, length - 4)
                if kind == b"Q":
                    body = self._rewrite(body)
                server.sendall(kind + struct.pack("!I", len(body) + 4) + body)
        except (OSError, EOFError):
            with _quiet():
                server.shutdown(socket.SHUT_RDWR)

    def _rewrite(self, body: bytes) -> bytes:
        text = body.rstrip(b"\x00").decode()
        if not (text.startswith("CREATE TABLE ") and ") WITH (" in text):
            return body
        self.rewritten.append(text)
        tag = f"$s{secrets.token_hex(6)}$"
        return f"CALL hg_emulation.create_table_with({tag}{text}{tag})".encode() + b"\x00"

    def close(self) -> None:
        self._closing = True
        self.sock.close()


def _read(reader: object, size: int) -> bytes:
    data = reader.read(size)  # type: ignore[attr-defined]
    if len(data) < size:
        raise EOFError
    return bytes(data)


@contextmanager
def _quiet() -> Iterator[None]:
    with suppress(OSError):
        yield
