"""HologresTable: the Hologres sink table as a Pulumi dynamic resource, and its provider (psycopg2).

The provider object is pickled by reference (dill) into the state and re-imported by Pulumi's
provider host, so this module must keep its path and import without side effects.

Credentials never reach the state: the user (AccessKey ID) and password (AccessKey secret) come
from the stack config (``hologresUser``, ``hologresPassword``) through ``configure()``. The admin
connection is encrypted by default (``sslmode`` require); the ``tls`` output says what protected it.

Data safety, where data would be dropped (never in ``diff``, which ``pulumi refresh`` calls to show
drift, so it must only report):
- ``check`` refuses a declared change that needs a new table under the same name unless
  ``dropTableOnDestroy`` is already true in the state (the engine's delete cannot tell a replace
  from a destroy);
- replacement is delete-before-replace: ``diff`` says so, and the resource option is set, because
  ``pulumi up --replace`` never asks the provider's diff (pulumi/pulumi
  pkg/resource/deploy/step_generator.go at 1b5949891b3cefcb9974752b24a5ecef0acc86c8, the targeted
  replace in ``diff`` and ``goal.DeleteBeforeReplace`` overriding the provider);
- should the engine still create before deleting, the old resource's delete finds the table marked
  with the newer resource's generation (see hologres_ddl.render_marker) and keeps it;
- ``delete`` drops only with ``dropTableOnDestroy`` true, and ``create`` never drops: a live table
  that differs from the declaration is an error listing the differences.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.extensions
import pulumi
import pulumi.dynamic as dyn

from components import hologres_ddl as ddl
from components.config_commands import HOLOGRES_PASSWORD, HOLOGRES_USER
from components.hologres_catalog import HologresVersion, LiveTable, live_table, server_version, tls_state
from components.hologres_table_changes import (
    ADOPTED,
    CONNECT_TIMEOUT,
    CONNECTION_KEYS,
    DATABASE,
    DECLARED,
    DEFAULTS,
    DROP_ON_DESTROY,
    GENERATION,
    HOLOGRES_VERSION,
    HOST,
    ON_DESTROY,
    OUTPUT_KEYS,
    PORT,
    QUALIFIED_NAME,
    SSLMODE,
    SSLMODES,
    SSLROOTCERT,
    STATEMENT_TIMEOUT,
    TLS,
    UNAPPLIED,
    UNEXPLAINED,
    declared_changes,
    effective_spec,
    identity_of,
    qualified_name_of,
    rebuild_refused,
    top_level,
)
from components.unknowns import is_unknown

WITH_CLAUSE_SINCE = (2, 1)  # Hologres accepts CREATE TABLE … WITH (…) from V2.1
DATE_PK_SINCE = (1, 3, 22)  # a DATE primary key column from V1.3.22 (CREATE TABLE limits)
# libpq's message when the server has no TLS; Hologres has SSL off until it is turned on per instance.
_NO_TLS = "server does not support SSL"
_TLS_FIX = ("turn SSL on for the Hologres instance (console: Instance details > Network information; require "
            "needs V1.1+, verify-ca/verify-full V2.1+), or on a private network only `pulumi config set "
            "hologresSslMode disable`")


class HologresError(Exception):
    """One readable line: what failed, the server's message and SQLSTATE. Never the password."""


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

    def __init__(self, user_config_key: str = HOLOGRES_USER, password_config_key: str = HOLOGRES_PASSWORD) -> None:
        super().__init__()
        # Config key names, not values: this object is pickled into the state.
        self.user_config_key = user_config_key
        self.password_config_key = password_config_key

    def configure(self, req: dyn.ConfigureRequest) -> None:
        self._user: str | None = req.config.get(self.user_config_key)
        self._password: str | None = req.config.get(self.password_config_key)

    # --- check / diff: never touch the database (pulumi preview calls them) ---------------------

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> dyn.CheckResult:
        props = {k: _whole(v) for k, v in news.items() if k not in OUTPUT_KEYS}
        for key, default in DEFAULTS.items():
            if props.get(key) is None:
                props[key] = default
        props, problems = ddl.check_table(props, is_unknown)
        problems += self._connection_problems(props)
        if not problems and olds:
            problems += rebuild_refused(olds, props)
        # The table's identity for its dependents (the jobs writing into it): kept while the table stays,
        # new for a new table (the engine re-checks a replacement without olds). An input, so a preview
        # of an in-place update knows it (the engine returns the inputs as a previewed update's outputs).
        props[GENERATION] = olds.get(GENERATION) or secrets.token_hex(8)
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
        if SSLROOTCERT in known and not isinstance(known[SSLROOTCERT], str):
            problems.append((SSLROOTCERT, "must be the path of the instance's CA certificate, or empty"))
        if DROP_ON_DESTROY in known and not isinstance(known[DROP_ON_DESTROY], bool):
            problems.append((DROP_ON_DESTROY, "must be true or false"))
        for key, value, what in ((self.user_config_key, self._user, "AccessKey ID"),
                                 (self.password_config_key, self._password, "AccessKey secret")):
            if not value:
                # Both are secret config: the program refuses them in plaintext.
                problems.append((key, f"missing stack config: pulumi config set --secret {key} '<{what}>'"))
        return problems

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        """Only reports (``pulumi refresh`` shows drift through it): never raises, never refuses."""
        for key, value in (olds.get(UNEXPLAINED) or {}).items():
            if key in (news.get(ddl.PROPERTIES) or {}):
                pulumi.log.warn(_unexplained_warning(olds, key, value))
        changes = declared_changes(olds, news)
        identity = (DATABASE, ddl.SCHEMA, ddl.TABLE)
        same_table = all(olds.get(k) == news.get(k) for k in identity)
        unsure = any(is_unknown(news.get(k)) for k in identity)
        # Same name: the old table must go before the new one can be created (also for --replace).
        delete_first = same_table or unsure
        if not changes:
            return dyn.DiffResult(changes=False, replaces=[], delete_before_replace=delete_first)
        replaces = sorted({top_level(c.property) for c in changes if c.replace})
        return dyn.DiffResult(changes=True, replaces=replaces, delete_before_replace=delete_first)

    # --- create / read / update / delete -------------------------------------------------------

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        spec = ddl.spec_from_props(props)
        action = f"create {spec.qualified_name}"
        generation = props.get(GENERATION) or secrets.token_hex(8)
        with self._connect(props, action) as conn:
            version = server_version(conn)
            existing = live_table(conn, spec.schema, spec.name, version)
            if existing is None:
                _refuse_for_version(spec, version, action)
                # The table, its properties and its marker, or nothing (one DDL-only transaction).
                _ddl(conn, [*_create_statements(conn, spec, version),
                            ddl.render_marker(spec.schema, spec.name, None, generation)])
            else:
                differences = ddl.classify(existing.spec, spec, compare_properties=version is not None,
                                           unexplained=existing.unexplained)
                if differences:
                    raise HologresError(
                        f"{action}: the table already exists and differs (live → declared): "
                        f"{'; '.join(d.description for d in differences)}; change the declaration to match, "
                        "or rename or drop the existing table yourself")
                # Adopted: from now on this resource's delete is the one that may drop it.
                _ddl(conn, [ddl.render_marker(spec.schema, spec.name, existing.comment, generation)])
            live = _require_table(conn, spec, version, action)
            outputs = _outputs(props, live, version, conn, adopted=existing is not None, generation=generation,
                               declared=props.get(ddl.PROPERTIES))
        _warn_read_back(spec, live, version)
        return dyn.CreateResult(spec.qualified_name, outputs)

    def read(self, id_: str, props: dict[str, Any]) -> dyn.ReadResult:
        schema, name = props.get(ddl.SCHEMA), props.get(ddl.TABLE)
        if not schema or not name:
            schema, _, name = id_.partition(".")  # the id is schema.table, unquoted
        with self._connect(props, f"read {schema}.{name}") as conn:
            version = server_version(conn)
            live = live_table(conn, schema, name, version)
            if live is None:
                return dyn.ReadResult("", {})  # gone: the next `pulumi up` creates it again
            outputs = _outputs(props, live, version, conn, adopted=bool(props.get(ADOPTED)),
                               generation=props.get(GENERATION) or "", declared=props.get(DECLARED))
        return dyn.ReadResult(id_, outputs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        spec = effective_spec(news, olds.get(DECLARED))
        action = f"update {spec.qualified_name}"
        with self._connect(news, action) as conn:
            version = server_version(conn)
            live = live_table(conn, spec.schema, spec.name, version)
            if live is None:
                raise HologresError(f"{action}: the table no longer exists; run `pulumi refresh`, then `pulumi up`")
            hologres = version is not None
            rebuild = [c for c in ddl.classify(live.spec, spec, compare_properties=hologres,
                                               unexplained=live.unexplained) if c.replace]
            if rebuild:
                raise HologresError(f"{action}: the live table differs in ways an update cannot fix "
                                    f"({'; '.join(c.description for c in rebuild)}); run `pulumi refresh` first")
            statements = []
            if added := ddl.new_columns(live.spec, spec):
                statements.append(ddl.render_add_columns(spec, added))
            if hologres:
                changed = ddl.changed_mutable_properties(live.spec, spec, live.unexplained)
                statements += _property_calls(conn, spec, changed)
            _ddl(conn, statements)
            live = _require_table(conn, spec, version, action)
            outputs = _outputs(news, live, version, conn, adopted=bool(olds.get(ADOPTED)),
                               generation=olds.get(GENERATION) or "", declared=news.get(ddl.PROPERTIES))
        _warn_read_back(spec, live, version)
        return dyn.UpdateResult(outputs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        qualified = qualified_name_of(props) if props.get(ddl.TABLE) else id_
        if props.get(DROP_ON_DESTROY) is not True:
            pulumi.log.warn(f"kept table {qualified} and its data in database {props.get(DATABASE)!r} "
                            "(dropTableOnDestroy is false); Pulumi no longer manages it")
            return
        action = f"drop {qualified}"
        with self._connect(props, action) as conn:
            live = live_table(conn, props[ddl.SCHEMA], props[ddl.TABLE], None)
            if live is None:
                return
            owner = ddl.marker_generation(live.comment)
            if owner and props.get(GENERATION) and owner != props[GENERATION]:
                # A create-before-delete replacement adopted it: the table is the new resource's now.
                pulumi.log.warn(f"kept table {qualified}: it now belongs to the resource that replaced this one")
                return
            _ddl(conn, [ddl.render_drop_table(props[ddl.SCHEMA], props[ddl.TABLE])])

    # --- connection ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _connect(self, props: Mapping[str, Any], action: str) -> Iterator[psycopg2.extensions.connection]:
        """A connection in autocommit mode (reads never join a DDL transaction), with bounded connect
        and statement time and the declared TLS; psycopg2 errors become one line."""
        user, password = getattr(self, "_user", None), getattr(self, "_password", None)
        if not user or not password:
            raise HologresError(f"{action}: stack config {self.user_config_key} and "
                                f"{self.password_config_key} must be set")
        where = f"{props[HOST]}:{_whole(props[PORT])}/{props[DATABASE]}"
        tls = {"sslrootcert": props[SSLROOTCERT]} if props.get(SSLROOTCERT) else {}
        try:
            conn = psycopg2.connect(
                host=props[HOST], port=_whole(props[PORT]), dbname=props[DATABASE], user=user, password=password,
                sslmode=props[SSLMODE], connect_timeout=_whole(props[CONNECT_TIMEOUT]),
                application_name="pulumi flink-hologres",
                # Notice a dead peer within about a minute instead of hanging on it.
                keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3, **tls,
            )
        except psycopg2.Error as err:
            line = _one_line(err, password)
            fix = f"; {_TLS_FIX}" if _NO_TLS in line else ""
            raise HologresError(f"{action}: cannot connect to {where} as {user}: {line}{fix}") from None
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                # Bounds lock waits too; Hologres knows statement_timeout (not necessarily lock_timeout).
                cur.execute("SET statement_timeout = %s", (_whole(props[STATEMENT_TIMEOUT]) * 1000,))
            yield conn
        except psycopg2.Error as err:
            raise HologresError(f"{action} ({where}): {_one_line(err, password)}") from None
        finally:
            conn.close()  # an unfinished DDL transaction rolls back


def _refuse_for_version(spec: ddl.TableSpec, version: HologresVersion | None, action: str) -> None:
    """Rules that depend on the server's version, checked before CREATE."""
    types = {c.name: ddl.canonical_type(c.type) for c in spec.columns}
    if version is not None and not version.at_least(*DATE_PK_SINCE):
        dates = [n for n in spec.primary_key if types.get(n) == "date"]
        if dates:
            raise HologresError(f"{action}: Hologres {version.major}.{version.minor} takes no DATE column in a "
                                f"primary key ({', '.join(dates)}; allowed from V1.3.22): use TEXT or upgrade")


def _create_statements(conn: psycopg2.extensions.connection, spec: ddl.TableSpec,
                       version: HologresVersion | None) -> list[ddl.Statement]:
    if version is None:
        return [ddl.render_create_table(spec, with_properties=False)]
    if version.at_least(*WITH_CLAUSE_SINCE):
        return [ddl.render_create_table(spec, with_properties=True)]
    # Before V2.1: set_table_property inside the CREATE's transaction.
    return [ddl.render_create_table(spec, with_properties=False),
            *_property_calls(conn, spec, ddl.set_properties(spec))]


def _property_calls(conn: psycopg2.extensions.connection, spec: ddl.TableSpec,
                    properties: Mapping[str, Any]) -> list[ddl.Statement]:
    table_ref = ddl.table_identifier(spec.schema, spec.name).as_string(conn)  # quoted by libpq
    return [ddl.render_set_table_property(table_ref, k, v) for k, v in properties.items()]


def _ddl(conn: psycopg2.extensions.connection, statements: Iterable[ddl.Statement]) -> None:
    """The statements as one DDL-only transaction: all of them, or (on any error) none."""
    statements = list(statements)
    if not statements:
        return
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            for statement, params in statements:
                cur.execute(statement, params or None)  # None: no "%" interpolation (see ddl.Statement)
        conn.commit()
    finally:
        if not conn.closed:
            conn.rollback()  # no-op after the commit
            conn.autocommit = True


def _require_table(conn: psycopg2.extensions.connection, spec: ddl.TableSpec, version: HologresVersion | None,
                   action: str) -> LiveTable:
    live = live_table(conn, spec.schema, spec.name, version)
    if live is None:  # dropped by someone else between our statements
        raise HologresError(f"{action}: the table vanished right after the change; run `pulumi refresh`")
    return live


def _unexplained_warning(props: Mapping[str, Any], key: str, value: str) -> str:
    return (f"table {qualified_name_of(props)}: Hologres reports property {key} as {value!r}, which this program "
            "cannot interpret; it is left as it is and not compared (check it in HoloWeb)")


def _warn_read_back(spec: ddl.TableSpec, live: LiveTable, version: HologresVersion | None) -> None:
    """Right after applying a declaration, whatever still differs is reported, never acted upon."""
    if version is None:
        return
    for key, value in live.unexplained.items():
        pulumi.log.warn(_unexplained_warning({ddl.SCHEMA: spec.schema, ddl.TABLE: spec.name}, key, value))
    for change in ddl.classify(live.spec, spec, unexplained=live.unexplained):
        if change.property.startswith(ddl.PROPERTIES):
            pulumi.log.warn(f"table {spec.qualified_name}: property {change.property.split('.', 1)[1]} reads back "
                            f"differently from what was declared ({change.description}); Hologres may have "
                            "adjusted it")


def _outputs(props: Mapping[str, Any], live: LiveTable, version: HologresVersion | None,
             conn: psycopg2.extensions.connection, *, adopted: bool, generation: str,
             declared: Mapping[str, Any] | None) -> dict[str, Any]:
    """Outputs = the connection inputs + the table as it is live (+ what was not applied)."""
    table = ddl.spec_to_props(live.spec)
    unapplied: list[str] = []
    if version is None:
        # Plain PostgreSQL has nowhere to keep them: report the declared ones as not applied.
        table[ddl.PROPERTIES] = dict(props.get(ddl.PROPERTIES) or {})
        unapplied = list(table[ddl.PROPERTIES])
    drop = props.get(DROP_ON_DESTROY) is True
    return {
        **{k: props[k] for k in CONNECTION_KEYS if k in props},
        **table,
        QUALIFIED_NAME: live.spec.qualified_name,
        HOLOGRES_VERSION: version.text if version else "",
        UNAPPLIED: unapplied,
        UNEXPLAINED: dict(live.unexplained),
        ADOPTED: adopted,
        ON_DESTROY: _on_destroy(drop, version),
        TLS: tls_state(conn, str(props.get(SSLMODE))),
        GENERATION: generation,
        DECLARED: dict(declared or {}),  # what the next change compares with (see effective_spec)
    }


def _on_destroy(drop: bool, version: HologresVersion | None) -> str:
    if not drop:
        return "keep the table and its data"
    if version is not None and version.at_least(3, 1):
        # V3.1+: DROP moves the table to the recycle bin (on by default, kept one day), storage included.
        return "drop the table (DROP TABLE … RESTRICT; Hologres V3.1+ keeps it in the recycle bin for a day)"
    return "drop the table (DROP TABLE … RESTRICT)"


# --- the resource ----------------------------------------------------------------------------------


@dataclass
class HologresTableArgs:
    """Inputs of HologresTable. Connection values may be Outputs of other resources."""

    host: pulumi.Input[str]
    database: pulumi.Input[str]
    table: ddl.TableSpec = ddl.DEFAULT_ORDER_DETAILS
    port: pulumi.Input[int] = 80
    sslmode: pulumi.Input[str] = "require"  # TLS on the admin connection (the AccessKey and the DDL)
    ssl_root_cert: pulumi.Input[str] = ""  # the instance's CA certificate, for verify-ca / verify-full
    connect_timeout: pulumi.Input[int] = 10  # seconds
    statement_timeout: pulumi.Input[int] = 60  # seconds
    drop_table_on_destroy: pulumi.Input[bool] = False


# Python attribute ↔ engine property names (state keeps Pulumi's camelCase).
_ENGINE_NAMES = {
    "connect_timeout": CONNECT_TIMEOUT, "statement_timeout": STATEMENT_TIMEOUT,
    "drop_table_on_destroy": DROP_ON_DESTROY, "schema_name": ddl.SCHEMA, "table_name": ddl.TABLE,
    "primary_key": ddl.PRIMARY_KEY, "qualified_name": QUALIFIED_NAME, "hologres_version": HOLOGRES_VERSION,
    "unapplied_properties": UNAPPLIED, "on_destroy": ON_DESTROY, "ssl_root_cert": SSLROOTCERT,
    "unexplained_properties": UNEXPLAINED,
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
    tls: pulumi.Output[str]  # what protected the admin connection, e.g. "TLSv1.3, … (sslmode require)"
    unexplained_properties: pulumi.Output[dict[str, str]]  # catalog values this program could not read
    generation: pulumi.Output[str]  # new with every (re)created table, kept by updates

    def __init__(self, resource_name: str, args: HologresTableArgs, opts: pulumi.ResourceOptions | None = None,
                 *, user_config_key: str = HOLOGRES_USER, password_config_key: str = HOLOGRES_PASSWORD) -> None:
        table = ddl.spec_to_props(args.table)
        props: dict[str, Any] = {
            "host": args.host, "port": args.port, "database": args.database, "sslmode": args.sslmode,
            "ssl_root_cert": args.ssl_root_cert,
            "connect_timeout": args.connect_timeout, "statement_timeout": args.statement_timeout,
            "drop_table_on_destroy": args.drop_table_on_destroy,
            **{_PYTHON_NAMES.get(k, k): v for k, v in table.items()},
            # Outputs only: None registers the attribute and is not sent as an input.
            **dict.fromkeys(("qualified_name", "hologres_version", "unapplied_properties", "adopted", "on_destroy",
                             "tls", "generation", "unexplained_properties")),
        }
        # Same name on both sides of a replacement: delete first, also for `pulumi up --replace`, which
        # never asks the provider's diff (see the module docstring). An explicit option wins.
        if opts is None or opts.delete_before_replace is None:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=True))
        super().__init__(HologresTableProvider(user_config_key, password_config_key), resource_name, props, opts)
        # "schema.table@generation": changes exactly when the table is rebuilt. A job given it as an input
        # depends on the table through that property, so the engine stops (deletes) the job before it
        # drops the table and starts it after (pulumi/pulumi pkg/resource/deploy/step_generator.go at
        # 1b5949891b3c, calculateDependentReplacements; see FlinkJob's diff).
        self.identity: pulumi.Output[str] = pulumi.Output.all(self.schema_name, self.table_name, self.generation).apply(
            lambda parts: identity_of(*parts))

    def translate_input_property(self, prop: str) -> str:
        return _ENGINE_NAMES.get(prop, prop)

    def translate_output_property(self, prop: str) -> str:
        return _PYTHON_NAMES.get(prop, prop)
