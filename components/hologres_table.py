"""HologresTable: the Hologres sink table as a Pulumi dynamic resource, and its provider (psycopg2).

The provider object is pickled by reference (dill) into the state and re-imported by Pulumi's
provider host, so this module must keep its path and import without side effects.

Credentials never reach the state: the user (AccessKey ID) and password (AccessKey secret) come
from the stack config (``hologresUser``, ``hologresPassword``) through ``configure()``.

Data safety: the provider drops a table only when ``dropTableOnDestroy`` is already true in the
state. A delete without it keeps the table and its rows (and says so); a change that needs a new
table under the same name (column type, removed column, key, orientation, …) is refused by
``diff`` before anything is touched, because the engine's delete cannot tell a replace from a
destroy.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import pulumi
import pulumi.dynamic as dyn

from components import hologres_ddl as ddl
from components.unknowns import is_unknown

# Connection inputs.
HOST, PORT, DATABASE, SSLMODE = "host", "port", "database", "sslmode"
CONNECT_TIMEOUT, STATEMENT_TIMEOUT, DROP_ON_DESTROY = "connectTimeout", "statementTimeout", "dropTableOnDestroy"
CONNECTION_KEYS = (HOST, PORT, DATABASE, SSLMODE, CONNECT_TIMEOUT, STATEMENT_TIMEOUT, DROP_ON_DESTROY)
# Computed outputs.
QUALIFIED_NAME, HOLOGRES_VERSION, UNAPPLIED, ADOPTED, ON_DESTROY = (
    "qualifiedName", "hologresVersion", "unappliedProperties", "adopted", "onDestroy")
OUTPUT_KEYS = (QUALIFIED_NAME, HOLOGRES_VERSION, UNAPPLIED, ADOPTED, ON_DESTROY)

DEFAULTS: dict[str, Any] = {PORT: 80, SSLMODE: "prefer", CONNECT_TIMEOUT: 10, STATEMENT_TIMEOUT: 60,
                            DROP_ON_DESTROY: False}
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Changing these never touches the table; any other change does (see hologres_ddl.classify).
IN_PLACE_CONNECTION_KEYS = (HOST, PORT, SSLMODE, CONNECT_TIMEOUT, STATEMENT_TIMEOUT, DROP_ON_DESTROY)
WITH_CLAUSE_SINCE = (2, 1)  # Hologres accepts CREATE TABLE … WITH (…) from V2.1


class HologresError(Exception):
    """One readable line: what failed, the server's message and SQLSTATE. Never the password."""


class HologresVersion(NamedTuple):
    text: str
    major: int
    minor: int


def _whole(value: Any) -> Any:
    # Numbers cross the gRPC wire as floats: 80 arrives as 80.0.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _int_problem(value: Any, low: int, high: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return f"must be a whole number from {low} to {high}"
    return None


def _one_line(err: psycopg2.Error, secret: str | None) -> str:
    diag = err.diag
    text = diag.message_primary or str(err)
    if diag.message_detail:
        text = f"{text}: {diag.message_detail}"
    text = " ".join(text.split())
    if secret:
        text = text.replace(secret, "***")  # defensive: libpq does not echo it, keep it that way
    return f"{text} (SQLSTATE {err.pgcode})" if err.pgcode else text


class HologresTableProvider(dyn.ResourceProvider):
    """CRUD for one table over the PostgreSQL protocol (Hologres, or a plain PostgreSQL stand-in)."""

    def __init__(self, user_config_key: str = "hologresUser",
                 password_config_key: str = "hologresPassword") -> None:
        super().__init__()
        # Config key names, not values: this object is pickled into the state.
        self.user_config_key = user_config_key
        self.password_config_key = password_config_key

    def configure(self, req: dyn.ConfigureRequest) -> None:
        self._user: str | None = req.config.get(self.user_config_key)
        self._password: str | None = req.config.get(self.password_config_key)

    # --- check / diff: never touch the database (pulumi preview calls them) ---------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dyn.CheckResult:
        props = {k: _whole(v) for k, v in news.items() if k not in OUTPUT_KEYS}
        for key, default in DEFAULTS.items():
            if props.get(key) is None:
                props[key] = default
        props, problems = ddl.check_table(props, is_unknown)
        problems += self._connection_problems(props)
        return dyn.CheckResult(props, [dyn.CheckFailure(p, r) for p, r in problems])

    def _connection_problems(self, props: Mapping[str, Any]) -> list[ddl.Problem]:
        problems: list[ddl.Problem] = []
        known = {k: props.get(k) for k in CONNECTION_KEYS if not is_unknown(props.get(k))}
        if HOST in known and (not isinstance(known[HOST], str) or not known[HOST].strip()):
            problems.append((HOST, "must be the Hologres endpoint's host name"))
        for key, low, high in ((PORT, 1, 65535), (CONNECT_TIMEOUT, 2, 600), (STATEMENT_TIMEOUT, 1, 86400)):
            if key in known and (problem := _int_problem(known[key], low, high)):
                problems.append((key, problem))
        if DATABASE in known and (problem := ddl.identifier_problem(known[DATABASE])):
            problems.append((DATABASE, problem))
        if SSLMODE in known and known[SSLMODE] not in SSLMODES:
            problems.append((SSLMODE, f"must be one of {', '.join(SSLMODES)}"))
        if DROP_ON_DESTROY in known and not isinstance(known[DROP_ON_DESTROY], bool):
            problems.append((DROP_ON_DESTROY, "must be true or false"))
        for key, value, what in ((self.user_config_key, self._user, "AccessKey ID"),
                                 (self.password_config_key, self._password, "AccessKey secret")):
            if not value:
                secret = " --secret" if what.endswith("secret") else ""
                problems.append((key, f"missing stack config: pulumi config set{secret} {key} <{what}>"))
        return problems

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        changes = _changes(olds, news)
        if not changes:
            return dyn.DiffResult(changes=False, replaces=[])
        replaces = sorted({_top_level(c.property) for c in changes if c.replace})
        identity = (DATABASE, ddl.SCHEMA, ddl.TABLE)
        same_table = all(olds.get(k) == news.get(k) for k in identity)
        # Refuse only a certain rebuild: in a preview, unknown values are re-diffed once known.
        certain = [c for c in changes if c.replace and not is_unknown(news.get(_top_level(c.property)))]
        if certain and same_table and olds.get(DROP_ON_DESTROY) is not True:
            reasons = "; ".join(c.description for c in certain)
            raise HologresError(
                f"refusing to replace table {_qualified(olds)}: {reasons} needs a new table, which drops the "
                f"existing one and its rows; set dropTableOnDestroy to true and run `pulumi up` first to allow "
                "it, or keep the old definition")
        # Same name: the old table must go before the new one can be created.
        unsure = any(is_unknown(news.get(k)) for k in identity)
        return dyn.DiffResult(changes=True, replaces=replaces,
                              delete_before_replace=bool(replaces) and (same_table or unsure))

    # --- create / read / update / delete -------------------------------------------------------

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        spec = ddl.spec_from_props(props)
        action = f"create {spec.qualified_name}"
        with self._connect(props, action) as conn:
            version = _hologres_version(conn)
            existing = _live_table(conn, spec.schema, spec.name, version)
            if existing is None:
                _run(conn, _create_statements(conn, spec, version))  # the table and its properties, or nothing
            elif differences := ddl.classify(existing, spec, compare_properties=version is not None):
                raise HologresError(
                    f"{action}: the table already exists and differs (live → declared): "
                    f"{'; '.join(d.description for d in differences)}; change the declaration to match, "
                    "or rename or drop the existing table yourself")
            live = _require_table(conn, spec, version, action)
        return dyn.CreateResult(spec.qualified_name, _outputs(props, live, version, adopted=existing is not None))

    def read(self, id_: str, props: dict[str, Any]) -> dyn.ReadResult:
        schema, name = props.get(ddl.SCHEMA), props.get(ddl.TABLE)
        if not schema or not name:
            schema, name = ddl.parse_table_name(id_)
        with self._connect(props, f"read {schema}.{name}") as conn:
            version = _hologres_version(conn)
            live = _live_table(conn, schema, name, version)
        if live is None:
            return dyn.ReadResult("", {})  # gone: the next `pulumi up` creates it again
        return dyn.ReadResult(id_, _outputs(props, live, version, adopted=bool(props.get(ADOPTED))))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        spec = ddl.spec_from_props(news)
        action = f"update {spec.qualified_name}"
        with self._connect(news, action) as conn:
            version = _hologres_version(conn)
            live = _live_table(conn, spec.schema, spec.name, version)
            if live is None:
                raise HologresError(f"{action}: the table no longer exists; run `pulumi refresh`, then `pulumi up`")
            rebuild = [c for c in ddl.classify(live, spec, compare_properties=version is not None) if c.replace]
            if rebuild:
                raise HologresError(f"{action}: the live table differs in ways an update cannot fix "
                                    f"({'; '.join(c.description for c in rebuild)}); run `pulumi refresh` first")
            statements = []
            if added := ddl.new_columns(live, spec):
                statements.append(ddl.render_add_columns(spec, added))
            if version is not None:
                statements += _property_calls(conn, spec, ddl.changed_mutable_properties(live, spec))
            _run(conn, statements)
            live = _require_table(conn, spec, version, action)
        return dyn.UpdateResult(_outputs(news, live, version, adopted=bool(olds.get(ADOPTED))))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        qualified = _qualified(props) if props.get(ddl.TABLE) else id_
        if props.get(DROP_ON_DESTROY) is not True:
            pulumi.log.warn(f"kept table {qualified} and its data in database {props.get(DATABASE)!r} "
                            "(dropTableOnDestroy is false); Pulumi no longer manages it")
            return
        with self._connect(props, f"drop {qualified}") as conn:
            _run(conn, [ddl.render_drop_table(props[ddl.SCHEMA], props[ddl.TABLE])])

    # --- connection ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self, props: Mapping[str, Any], action: str) -> Iterator[psycopg2.extensions.connection]:
        """A connection with bounded connect and statement time; psycopg2 errors become one line."""
        user, password = getattr(self, "_user", None), getattr(self, "_password", None)
        if not user or not password:
            raise HologresError(f"{action}: stack config {self.user_config_key} and "
                                f"{self.password_config_key} must be set")
        where = f"{props[HOST]}:{_whole(props[PORT])}/{props[DATABASE]}"
        try:
            conn = psycopg2.connect(
                host=props[HOST], port=_whole(props[PORT]), dbname=props[DATABASE], user=user, password=password,
                sslmode=props[SSLMODE], connect_timeout=_whole(props[CONNECT_TIMEOUT]),
                application_name="pulumi flink-hologres",
                # Notice a dead peer within about a minute instead of hanging on it.
                keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3,
            )
        except psycopg2.Error as err:
            raise HologresError(f"{action}: cannot connect to {where} as {user}: {_one_line(err, password)}") from None
        try:
            with conn.cursor() as cur:
                # Bounds lock waits too; Hologres knows statement_timeout (not necessarily lock_timeout).
                cur.execute("SET statement_timeout = %s", (_whole(props[STATEMENT_TIMEOUT]) * 1000,))
            conn.commit()  # SET is transactional: a later rollback must not undo the limits
            yield conn
        except psycopg2.Error as err:
            raise HologresError(f"{action} ({where}): {_one_line(err, password)}") from None
        finally:
            conn.close()  # without a commit: the transaction rolls back


def _top_level(path: str) -> str:
    return re.split(r"[.\[]", path)[0]


def _qualified(props: Mapping[str, Any]) -> str:
    return f"{props.get(ddl.SCHEMA)}.{props.get(ddl.TABLE)}"


def _changes(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[ddl.Change]:
    """Old outputs → new (checked) inputs; unknown values count as changes, in the table as replaces."""
    changes = [ddl.Change(k, f"{k}: {olds.get(k)!r} → {news.get(k)!r}", replace=k == DATABASE)
               for k in (DATABASE, *IN_PLACE_CONNECTION_KEYS)
               if is_unknown(news.get(k)) or olds.get(k) != news.get(k)]
    unknown = [k for k in ddl.TABLE_KEYS if is_unknown(news.get(k))]
    if unknown:
        return changes + [ddl.Change(k, f"{k}: known after apply", replace=True) for k in unknown]
    try:
        old_spec = ddl.spec_from_props(olds)
    except (KeyError, TypeError):
        return changes + [ddl.Change(ddl.TABLE, "no table in the previous state", replace=True)]
    hologres = bool(olds.get(HOLOGRES_VERSION))
    for change in ddl.classify(old_spec, ddl.spec_from_props(news)):
        # On plain PostgreSQL the Hologres properties were never applied: changing them rebuilds nothing.
        if change.property.startswith(ddl.PROPERTIES) and not hologres:
            change = ddl.Change(change.property, change.description, replace=False)
        changes.append(change)
    return changes


def _hologres_version(conn: psycopg2.extensions.connection) -> HologresVersion | None:
    """The server's Hologres version, or None on plain PostgreSQL (no hg_version())."""
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT hg_version()")
            text = str(cur.fetchone()[0])
    except psycopg2.errors.UndefinedFunction:
        conn.rollback()
        return None
    conn.rollback()  # leave no transaction open: the caller's work starts fresh
    match = re.search(r"(\d+)\.(\d+)", text)
    return HologresVersion(text, int(match[1]), int(match[2])) if match else HologresVersion(text, 0, 0)


def _create_statements(conn: psycopg2.extensions.connection, spec: ddl.TableSpec,
                       version: HologresVersion | None) -> list[ddl.Statement]:
    if version is None:
        return [ddl.render_create_table(spec, with_properties=False)]
    if (version.major, version.minor) >= WITH_CLAUSE_SINCE:
        return [ddl.render_create_table(spec, with_properties=True)]
    # Before V2.1: set_table_property inside the CREATE's transaction.
    return [ddl.render_create_table(spec, with_properties=False),
            *_property_calls(conn, spec, ddl.set_properties(spec))]


def _property_calls(conn: psycopg2.extensions.connection, spec: ddl.TableSpec,
                    properties: Mapping[str, Any]) -> list[ddl.Statement]:
    table_ref = ddl.table_identifier(spec.schema, spec.name).as_string(conn)  # quoted by libpq
    return [ddl.render_set_table_property(table_ref, k, v) for k, v in properties.items()]


def _run(conn: psycopg2.extensions.connection, statements: Iterable[ddl.Statement]) -> None:
    """The statements as one transaction: all of them, or (on any error) none."""
    with conn.cursor() as cur:
        for statement, params in statements:
            cur.execute(statement, params or None)  # None: no "%" interpolation (see ddl.Statement)
    conn.commit()


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


def _live_table(conn: psycopg2.extensions.connection, schema: str, name: str,
                version: HologresVersion | None) -> ddl.TableSpec | None:
    """The table as the catalog describes it, or None if there is none."""
    with conn.cursor() as cur:
        cur.execute(_TABLE_OID, (schema, name))
        row = cur.fetchone()
        if row is None:
            return None
        cur.execute(_COLUMNS, (row[0],))
        columns = tuple(ddl.Column(n, t, nullable) for n, t, nullable in cur.fetchall())
        cur.execute(_PRIMARY_KEY, (row[0],))
        primary_key = tuple(n for (n,) in cur.fetchall())
        properties: dict[str, Any] = {}
        if version is not None:
            cur.execute(_PROPERTIES, (schema, name))
            for key, value in cur.fetchall():
                key = ddl.PROPERTY_ALIASES.get(key, key)
                if key in ddl.PROPERTY_FIELDS and value not in (None, ""):
                    properties[key] = ddl.parse_catalog_property(key, value)
    return ddl.TableSpec(schema, name, columns, primary_key, ddl.hologres_properties(properties))


def _require_table(conn: psycopg2.extensions.connection, spec: ddl.TableSpec, version: HologresVersion | None,
                   action: str) -> ddl.TableSpec:
    live = _live_table(conn, spec.schema, spec.name, version)
    if live is None:  # dropped by someone else between our statements
        raise HologresError(f"{action}: the table vanished right after the change; run `pulumi refresh`")
    return live


def _outputs(props: Mapping[str, Any], live: ddl.TableSpec, version: HologresVersion | None,
             adopted: bool) -> dict[str, Any]:
    """Outputs = the connection inputs + the table as it is live (+ what was not applied)."""
    table = ddl.spec_to_props(live)
    unapplied: list[str] = []
    if version is None:
        # Plain PostgreSQL has nowhere to keep them: report the declared ones as not applied.
        table[ddl.PROPERTIES] = dict(props.get(ddl.PROPERTIES) or {})
        unapplied = list(table[ddl.PROPERTIES])
    drop = props.get(DROP_ON_DESTROY) is True
    return {
        **{k: props[k] for k in CONNECTION_KEYS if k in props},
        **table,
        QUALIFIED_NAME: live.qualified_name,
        HOLOGRES_VERSION: version.text if version else "",
        UNAPPLIED: unapplied,
        ADOPTED: adopted,
        ON_DESTROY: "drop the table (DROP TABLE … RESTRICT)" if drop else "keep the table and its data",
    }


# --- the resource ----------------------------------------------------------------------------------


@dataclass
class HologresTableArgs:
    """Inputs of HologresTable. Connection values may be Outputs of other resources."""

    host: pulumi.Input[str]
    database: pulumi.Input[str]
    table: ddl.TableSpec = ddl.DEFAULT_ORDER_DETAILS
    port: pulumi.Input[int] = 80
    sslmode: pulumi.Input[str] = "prefer"
    connect_timeout: pulumi.Input[int] = 10  # seconds
    statement_timeout: pulumi.Input[int] = 60  # seconds
    drop_table_on_destroy: pulumi.Input[bool] = False


# Python attribute ↔ engine property names (state keeps Pulumi's camelCase).
_ENGINE_NAMES = {
    "connect_timeout": CONNECT_TIMEOUT, "statement_timeout": STATEMENT_TIMEOUT,
    "drop_table_on_destroy": DROP_ON_DESTROY, "schema_name": ddl.SCHEMA, "table_name": ddl.TABLE,
    "primary_key": ddl.PRIMARY_KEY, "qualified_name": QUALIFIED_NAME, "hologres_version": HOLOGRES_VERSION,
    "unapplied_properties": UNAPPLIED, "on_destroy": ON_DESTROY,
}
_PYTHON_NAMES = {v: k for k, v in _ENGINE_NAMES.items()}


class HologresTable(dyn.Resource, module="hologres", name="Table"):
    """A Hologres table (type ``pulumi-python:dynamic/hologres:Table``)."""

    qualified_name: pulumi.Output[str]  # schema.table, e.g. for the job's HOLO_TABLE_NAME
    schema_name: pulumi.Output[str]
    table_name: pulumi.Output[str]
    columns: pulumi.Output[list[dict[str, Any]]]
    primary_key: pulumi.Output[list[str]]
    properties: pulumi.Output[dict[str, Any]]
    hologres_version: pulumi.Output[str]  # "" on plain PostgreSQL
    unapplied_properties: pulumi.Output[list[str]]  # Hologres properties a plain PostgreSQL ignored
    adopted: pulumi.Output[bool]  # the table existed, identical, and was taken over
    on_destroy: pulumi.Output[str]

    def __init__(self, resource_name: str, args: HologresTableArgs, opts: pulumi.ResourceOptions | None = None,
                 *, user_config_key: str = "hologresUser", password_config_key: str = "hologresPassword") -> None:
        table = ddl.spec_to_props(args.table)
        props: dict[str, Any] = {
            "host": args.host, "port": args.port, "database": args.database, "sslmode": args.sslmode,
            "connect_timeout": args.connect_timeout, "statement_timeout": args.statement_timeout,
            "drop_table_on_destroy": args.drop_table_on_destroy,
            **{_PYTHON_NAMES.get(k, k): v for k, v in table.items()},
            # Outputs only: None registers the attribute and is not sent as an input.
            **dict.fromkeys(("qualified_name", "hologres_version", "unapplied_properties", "adopted", "on_destroy")),
        }
        super().__init__(HologresTableProvider(user_config_key, password_config_key), resource_name, props, opts)

    def translate_input_property(self, prop: str) -> str:
        return _ENGINE_NAMES.get(prop, prop)

    def translate_output_property(self, prop: str) -> str:
        return _PYTHON_NAMES.get(prop, prop)
