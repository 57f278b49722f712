"""HologresWriter: the job's own login, allowed to upsert into its one table and nothing else.

A dynamic resource (``pulumi-python:dynamic/hologres:Writer``) beside the table. Its provider
connects with the admin credentials of the stack config (read through ``configure()``, as the
table's provider does) and manages one login:

- PostgreSQL: a ``LOGIN`` role; Hologres: a custom account ``BASIC$<name>`` (``CREATE USER``);
- granted ``USAGE`` on the table's schema and ``SELECT, INSERT, UPDATE`` on the table: what an
  upsert sink (``INSERT … ON CONFLICT DO UPDATE``) needs; no DELETE, TRUNCATE, DDL or other table;
- a new table name or password is an update (grants moved, password changed), a new login name
  a replace; destroy revokes and drops the login and never touches the table;
- the table's identity (``HologresTable.identity``, new for every rebuilt table) is an input: a rebuild
  (DROP + CREATE under the same name) drops the table's grants, so a new identity is an update that
  grants again, with the same login and password (never a replace: the pods' Secret stays as it is).

The password is a secret input (from ``pulumi_random.RandomPassword``). Pulumi's dynamic provider
host hands it over wrapped as a secret and keeps it secret in the outputs only under the same key,
so it is returned wrapped, exactly as received, under ``password``. On PostgreSQL only a SCRAM
verifier computed here reaches the server, so no server log can ever show the password.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import pulumi
import pulumi.dynamic as dyn
from psycopg2 import sql
from pulumi.runtime import rpc

from components import hologres_ddl as ddl
from components.hologres_catalog import server_version
from components.hologres_table import HologresError, HologresTableProvider, _whole
from components.hologres_table_changes import (
    CONNECT_TIMEOUT,
    DATABASE,
    DEFAULTS,
    DROP_ON_DESTROY,
    HOLOGRES_VERSION,
    HOST,
    PORT,
    SSLMODE,
    SSLROOTCERT,
    STATEMENT_TIMEOUT,
)
from components.unknowns import is_unknown

# The admin credentials' stack config keys: the table provider's, so both read the same ones.
_TABLE_PROVIDER = HologresTableProvider()
ADMIN_USER_KEY, ADMIN_PASSWORD_KEY = _TABLE_PROVIDER.user_config_key, _TABLE_PROVIDER.password_config_key

LOGIN, PASSWORD = "login", "password"
# "schema.table@generation" of the table (HologresTable.identity): changes exactly when the table is rebuilt.
TABLE_IDENTITY = "tableIdentity"
# Hologres prefixes custom accounts with BASIC$ (6 bytes) within the 63-byte name limit: the one rule for the
# login name, for this provider's check and the settings (hologresWriterLogin).
_LOGIN = re.compile(r"[A-Za-z0-9_]{1,57}")
# Computed outputs.
LOGIN_NAME, PERMISSION_MODEL, PRIVILEGES = "loginName", "permissionModel", "privileges"
OUTPUT_KEYS = (LOGIN_NAME, PERMISSION_MODEL, PRIVILEGES, HOLOGRES_VERSION)
WRITER_CONNECTION_KEYS = (HOST, PORT, DATABASE, SSLMODE, SSLROOTCERT, CONNECT_TIMEOUT, STATEMENT_TIMEOUT)
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE")  # what an upsert sink does; nothing else
HOLOGRES_ACCOUNT_PREFIX = "BASIC$"  # Hologres' custom (password) accounts
MIN_PASSWORD_LENGTH = 16


def login_problem(login: Any) -> str | None:
    """Why `login` cannot be the writer's login name, or None."""
    if isinstance(login, str) and _LOGIN.fullmatch(login):
        return None
    return f"'{login}' is not 1-57 letters, digits or '_'"


def login_name(login: str, hologres: bool) -> str:
    """The role the job connects as: Hologres custom accounts carry the BASIC$ prefix."""
    return f"{HOLOGRES_ACCOUNT_PREFIX}{login}" if hologres and not login.startswith(HOLOGRES_ACCOUNT_PREFIX) else login


def simple_permission_model_error(model: str, database: str, login: str) -> str:
    """How to proceed when the database grants through Hologres' simple permission models."""
    account = login_name(login, hologres=True)
    group = f"{database}_writer" if model == "spm" else f"{database}.<schema>_writer"
    switch = "CALL spm_disable();" if model == "spm" else "CALL slpm_disable();"
    return (f"database {database!r} uses Hologres' {'simple' if model == 'spm' else 'schema-level'} permission model "
            f"({model.upper()}), where GRANT on one table is not available and the {group} group may write every "
            f"table; nothing was created. Either switch the database to standard PostgreSQL authorization as a "
            f"superuser ({switch} in database {database}) and run `pulumi up` again, or create the login yourself "
            f"and add it to the writer group (CREATE USER \"{account}\" WITH PASSWORD '…'; "
            f"CALL spm_grant('{group}', '{account}');), then set hologresWriterLogin to \"\" and the pods' "
            "credentials by hand")


def _plain(value: Any) -> Any:
    return rpc.unwrap_rpc_secret(value)


class HologresWriterProvider(dyn.ResourceProvider):
    """CRUD for the job's login over the PostgreSQL protocol (Hologres, or plain PostgreSQL)."""

    def __init__(self, user_config_key: str = ADMIN_USER_KEY, password_config_key: str = ADMIN_PASSWORD_KEY) -> None:
        super().__init__()
        # The connection (and its admin credentials) is the table provider's own.
        self._admin = HologresTableProvider(user_config_key, password_config_key)

    def configure(self, req: dyn.ConfigureRequest) -> None:
        self._admin.configure(req)

    # --- check / diff: never touch the database -------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dyn.CheckResult:
        props = {k: _whole(v) for k, v in news.items() if k not in OUTPUT_KEYS}
        for key in WRITER_CONNECTION_KEYS:
            if props.get(key) is None and key in DEFAULTS:
                props[key] = DEFAULTS[key]
        # The table's connection checks (and its admin config check); a writer has no table to drop.
        problems = self._admin._connection_problems({**props, DROP_ON_DESTROY: False})
        for key in (ddl.SCHEMA, ddl.TABLE, LOGIN):
            value = props.get(key)
            check = login_problem if key == LOGIN else ddl.identifier_problem
            if not is_unknown(value) and (problem := check(value)):
                problems.append((key, problem))
        password = _plain(props.get(PASSWORD))
        if not is_unknown(password) and (not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH):
            # Never the value: it is a secret.
            problems.append((PASSWORD, f"must be a generated string of at least {MIN_PASSWORD_LENGTH} characters"))
        return dyn.CheckResult(props, [dyn.CheckFailure(p, r) for p, r in problems])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.DiffResult:
        # A new (or, in preview, unknown) table identity: the rebuilt table lost its grants; an update grants again.
        keys = (*WRITER_CONNECTION_KEYS, ddl.SCHEMA, ddl.TABLE, TABLE_IDENTITY, LOGIN, PASSWORD)
        changed = [k for k in keys if is_unknown(_plain(news.get(k))) or _plain(olds.get(k)) != _plain(news.get(k))]
        if not changed:
            return dyn.DiffResult(changes=False, replaces=[])
        # Another login or another server/database is a new writer; table and password change in place.
        replaces = [k for k in changed if k in (LOGIN, HOST, PORT, DATABASE)]
        # The same role name cannot exist twice: drop the old one first.
        same_login = LOGIN not in changed
        return dyn.DiffResult(changes=True, replaces=replaces, delete_before_replace=bool(replaces) and same_login)

    # --- create / read / update / delete -------------------------------------------------------

    def create(self, props: dict[str, Any]) -> dyn.CreateResult:
        action = f"create the writer login {props[LOGIN]!r}"
        with self._admin._connect(props, action) as conn:
            version, model = _version_and_model(conn)
            if model != "standard":
                raise HologresError(f"{action}: " + simple_permission_model_error(model, props[DATABASE], props[LOGIN]))
            role = login_name(props[LOGIN], version is not None)
            if _role_exists(conn, role):
                raise HologresError(
                    f"{action}: a role {role!r} already exists on this server; set hologresWriterLogin to an "
                    f"unused name, e.g. `pulumi config set hologresWriterLogin {props[LOGIN]}_2`, or drop it: "
                    f"DROP ROLE \"{role}\"")
            conn.autocommit = False  # one transaction: the login with its grants, or nothing
            with conn.cursor() as cur:
                cur.execute(_create_login(conn, role, _plain(props[PASSWORD]), version is not None))
                _grant(cur, role, props[ddl.SCHEMA], props[ddl.TABLE])
                privileges = _privileges(cur, role, props[ddl.SCHEMA], props[ddl.TABLE])
            conn.commit()
        _warn_extra(role, props[ddl.SCHEMA], privileges)
        return dyn.CreateResult(role, _outputs(props, role, version, privileges))

    def read(self, id_: str, props: dict[str, Any]) -> dyn.ReadResult:
        with self._admin._connect(props, f"read the writer login {id_!r}") as conn:
            version, _model = _version_and_model(conn)
            if not _role_exists(conn, id_):
                return dyn.ReadResult("", {})  # gone: the next `pulumi up` creates it again
            with conn.cursor() as cur:
                privileges = _privileges(cur, id_, props[ddl.SCHEMA], props[ddl.TABLE])
            conn.rollback()
        return dyn.ReadResult(id_, _outputs(props, id_, version, privileges))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dyn.UpdateResult:
        action = f"update the writer login {id_!r}"
        with self._admin._connect(news, action) as conn:
            version, _model = _version_and_model(conn)
            if not _role_exists(conn, id_):
                raise HologresError(f"{action}: the login no longer exists; run `pulumi refresh`, then `pulumi up`")
            conn.autocommit = False  # one transaction: grants moved and password changed, or nothing
            with conn.cursor() as cur:
                old_table = (olds.get(ddl.SCHEMA), olds.get(ddl.TABLE))
                if old_table != (news[ddl.SCHEMA], news[ddl.TABLE]) and all(old_table):
                    _revoke(cur, conn, id_, *old_table)
                _grant(cur, id_, news[ddl.SCHEMA], news[ddl.TABLE])
                if _plain(olds.get(PASSWORD)) != _plain(news[PASSWORD]):
                    cur.execute(_alter_password(conn, id_, _plain(news[PASSWORD]), version is not None))
                privileges = _privileges(cur, id_, news[ddl.SCHEMA], news[ddl.TABLE])
            conn.commit()
        _warn_extra(id_, news[ddl.SCHEMA], privileges)
        return dyn.UpdateResult(_outputs(news, id_, version, privileges))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        action = f"drop the writer login {id_!r}"
        with self._admin._connect(props, action) as conn:
            if not _role_exists(conn, id_):
                return  # already gone
            conn.autocommit = False  # one transaction: revoked and dropped, or nothing
            with conn.cursor() as cur:
                cur.execute(_OWNED_OBJECTS, (id_,))
                if owned := cur.fetchone()[0]:
                    # It could only own something someone else made it own: never drop data silently.
                    raise HologresError(
                        f"{action}: it owns {owned} object(s), which dropping it would drop; reassign them "
                        f"first (REASSIGN OWNED BY \"{id_}\" TO <owner>;), then run `pulumi destroy` again")
                _revoke(cur, conn, id_, props[ddl.SCHEMA], props[ddl.TABLE])
                # Owns nothing (checked): DROP OWNED only removes the privileges left in this database.
                cur.execute(sql.SQL("DROP OWNED BY {} RESTRICT").format(sql.Identifier(id_)))
                cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(id_)))
            conn.commit()
        pulumi.log.info(f"dropped the writer login {id_}; the table {props[ddl.SCHEMA]}.{props[ddl.TABLE]} is kept")


# --- SQL --------------------------------------------------------------------------------------------

_OWNED_OBJECTS = """
SELECT count(*) FROM pg_catalog.pg_shdepend d JOIN pg_catalog.pg_roles r ON r.oid = d.refobjid
WHERE r.rolname = %s AND d.deptype = 'o'"""


def _version_and_model(conn: psycopg2.extensions.connection) -> tuple[Any, str]:
    """(Hologres version or None, permission model: "standard", "spm" or "slpm")."""
    version = server_version(conn)
    if version is None:
        return None, "standard"
    for model, setting in (("spm", "hg_experimental_enable_spm"), ("slpm", "hg_enable_slpm")):
        if _setting_on(conn, setting):
            return version, model
    return version, "standard"


def _setting_on(conn: psycopg2.extensions.connection, name: str) -> bool:
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SHOW {}").format(sql.Identifier(name)))
            value = str(cur.fetchone()[0]).lower()
    except psycopg2.errors.UndefinedObject:  # an instance too old to know the model
        value = "off"
    conn.rollback()
    return value in ("on", "true", "1")


def _role_exists(conn: psycopg2.extensions.connection, role: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = %s", (role,))
        found = cur.fetchone() is not None
    conn.rollback()
    return found


def _password_literal(conn: psycopg2.extensions.connection, role: str, password: str, hologres: bool) -> str:
    # PostgreSQL accepts a SCRAM verifier: the password itself never reaches the server (or its logs).
    # Hologres custom accounts are documented with the plain password.
    value = password if hologres else psycopg2.extensions.encrypt_password(password, role, conn, "scram-sha-256")
    return sql.Literal(value).as_string(conn)


def _create_login(conn: psycopg2.extensions.connection, role: str, password: str, hologres: bool) -> sql.Composable:
    literal = sql.SQL(_password_literal(conn, role, password, hologres))
    if hologres:
        return sql.SQL("CREATE USER {} WITH PASSWORD {}").format(sql.Identifier(role), literal)
    return sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT PASSWORD {}").format(
        sql.Identifier(role), literal)


def _alter_password(conn: psycopg2.extensions.connection, role: str, password: str, hologres: bool) -> sql.Composable:
    literal = sql.SQL(_password_literal(conn, role, password, hologres))
    return sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(sql.Identifier(role), literal)


def _grant(cur: psycopg2.extensions.cursor, role: str, schema: str, table: str) -> None:
    cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(role)))
    cur.execute(sql.SQL("GRANT {} ON TABLE {} TO {}").format(
        sql.SQL(", ").join(map(sql.SQL, TABLE_PRIVILEGES)), ddl.table_identifier(schema, table), sql.Identifier(role)))


def _revoke(cur: psycopg2.extensions.cursor, conn: psycopg2.extensions.connection, role: str, schema: str,
            table: str) -> None:
    # The old table or schema may be gone already (renamed or dropped by someone): nothing to revoke then.
    cur.execute("SELECT to_regclass(%s) IS NOT NULL, to_regnamespace(%s) IS NOT NULL",
                (ddl.table_identifier(schema, table).as_string(conn), sql.Identifier(schema).as_string(conn)))
    has_table, has_schema = cur.fetchone()
    if has_table:
        cur.execute(sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(
            ddl.table_identifier(schema, table), sql.Identifier(role)))
    if has_schema:
        cur.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(sql.Identifier(schema), sql.Identifier(role)))


_TABLE_PRIVILEGE_NAMES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")


def _privileges(cur: psycopg2.extensions.cursor, role: str, schema: str, table: str) -> list[str]:
    """What the login can do on its schema and table, as the server says (incl. what PUBLIC grants)."""
    schema_ref, table_ref = sql.Identifier(schema).as_string(cur), ddl.table_identifier(schema, table).as_string(cur)
    found: list[str] = []
    # By OID: a missing schema or table gives NULL instead of an error.
    for privilege in ("USAGE", "CREATE"):
        cur.execute("SELECT has_schema_privilege(%s, to_regnamespace(%s)::oid, %s)", (role, schema_ref, privilege))
        if cur.fetchone()[0]:
            found.append(f"{privilege} ON SCHEMA {schema}")
    for privilege in _TABLE_PRIVILEGE_NAMES:
        cur.execute("SELECT has_table_privilege(%s, to_regclass(%s)::oid, %s)", (role, table_ref, privilege))
        if cur.fetchone()[0]:
            found.append(f"{privilege} ON {schema}.{table}")
    return found


def _warn_extra(role: str, schema: str, privileges: list[str]) -> None:
    # PUBLIC may create in a schema (PostgreSQL before 15, Hologres' public schema): not ours to revoke.
    if f"CREATE ON SCHEMA {schema}" in privileges:
        pulumi.log.warn(f"the writer login {role} can create tables in schema {schema} because PUBLIC may; to "
                        f"stop that, run as the owner: REVOKE CREATE ON SCHEMA \"{schema}\" FROM PUBLIC;")


def _outputs(props: Mapping[str, Any], role: str, version: Any, privileges: list[str]) -> dict[str, Any]:
    return {
        **{k: props[k] for k in (*WRITER_CONNECTION_KEYS, ddl.SCHEMA, ddl.TABLE, TABLE_IDENTITY, LOGIN) if k in props},
        PASSWORD: props[PASSWORD],  # exactly as received: wrapped as a secret, so it stays one
        LOGIN_NAME: role,
        PERMISSION_MODEL: "standard",
        PRIVILEGES: privileges,
        HOLOGRES_VERSION: version.text if version else "",
    }


# --- the resource ----------------------------------------------------------------------------------


@dataclass
class HologresWriterArgs:
    """Inputs of HologresWriter; the table's schema/name are best its outputs (a dependency on it)."""

    host: pulumi.Input[str]
    database: pulumi.Input[str]
    schema_name: pulumi.Input[str]
    table_name: pulumi.Input[str]
    login: pulumi.Input[str]
    password: pulumi.Input[str]  # a secret, e.g. pulumi_random.RandomPassword(...).result
    port: pulumi.Input[int] = 80
    sslmode: pulumi.Input[str] = "require"  # as the table's admin connection
    ssl_root_cert: pulumi.Input[str] = ""
    connect_timeout: pulumi.Input[int] = 10
    statement_timeout: pulumi.Input[int] = 60
    # HologresTable.identity: a rebuilt table (its grants dropped with it) makes the writer grant again.
    table_identity: pulumi.Input[str] | None = None


_ENGINE_NAMES = {"schema_name": ddl.SCHEMA, "table_name": ddl.TABLE, "table_identity": TABLE_IDENTITY,
                 "connect_timeout": CONNECT_TIMEOUT,
                 "ssl_root_cert": SSLROOTCERT,
                 "statement_timeout": STATEMENT_TIMEOUT, "login_name": LOGIN_NAME,
                 "permission_model": PERMISSION_MODEL, "hologres_version": HOLOGRES_VERSION}
_PYTHON_NAMES = {v: k for k, v in _ENGINE_NAMES.items()}


class HologresWriter(dyn.Resource, module="hologres", name="Writer"):
    """The job's login (type ``pulumi-python:dynamic/hologres:Writer``)."""

    login_name: pulumi.Output[str]  # the user name the job connects with (BASIC$… on Hologres)
    password: pulumi.Output[str]  # secret
    privileges: pulumi.Output[list[str]]
    permission_model: pulumi.Output[str]
    hologres_version: pulumi.Output[str]

    def __init__(self, resource_name: str, args: HologresWriterArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {
            "host": args.host, "port": args.port, "database": args.database, "sslmode": args.sslmode,
            "ssl_root_cert": args.ssl_root_cert, "connect_timeout": args.connect_timeout,
            "statement_timeout": args.statement_timeout,
            "schema_name": args.schema_name, "table_name": args.table_name, "table_identity": args.table_identity,
            "login": args.login,
            "password": pulumi.Output.secret(args.password),
            **dict.fromkeys(("login_name", "privileges", "permission_model", "hologres_version")),
        }
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["password"]))
        super().__init__(HologresWriterProvider(), resource_name, props, opts)

    def translate_input_property(self, prop: str) -> str:
        return _ENGINE_NAMES.get(prop, prop)

    def translate_output_property(self, prop: str) -> str:
        return _PYTHON_NAMES.get(prop, prop)


def declare_writer(resource_name: str, *, host: pulumi.Input[str], port: pulumi.Input[int],
                   database: pulumi.Input[str], schema_name: pulumi.Input[str], table_name: pulumi.Input[str],
                   login: str, rotation: str, table_identity: pulumi.Input[str] | None = None,
                   sslmode: pulumi.Input[str] = "require", ssl_root_cert: pulumi.Input[str] = "",
                   opts: pulumi.ResourceOptions | None = None) -> HologresWriter:
    """The writer with a generated password; a new `rotation` value generates a new one (an update)."""
    import pulumi_random  # here, not at the top: the provider host never needs it

    password = pulumi_random.RandomPassword(f"{resource_name}-password", length=32, special=False,
                                            keepers={"rotation": rotation}, opts=opts)
    args = HologresWriterArgs(host=host, port=port, database=database, schema_name=schema_name,
                              table_name=table_name, login=login, password=password.result, sslmode=sslmode,
                              ssl_root_cert=ssl_root_cert, table_identity=table_identity)
    return HologresWriter(resource_name, args, opts)
