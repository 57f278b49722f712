"""What a declared change to the Hologres table means, before any SQL runs: the property keys the table
resource and its provider share, which changes are in place and which need a new table, and the
data-safety rule that refuses a rebuild the state does not allow. Pure: no connection, no Pulumi.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from components import hologres_ddl as ddl
from components.hologres_properties import PER_COLUMN, with_undeclared
from components.unknowns import is_unknown

# Connection inputs.
HOST, PORT, DATABASE, SSLMODE, SSLROOTCERT = "host", "port", "database", "sslmode", "sslRootCert"
CONNECT_TIMEOUT, STATEMENT_TIMEOUT, DROP_ON_DESTROY = "connectTimeout", "statementTimeout", "dropTableOnDestroy"
CONNECTION_KEYS = (HOST, PORT, DATABASE, SSLMODE, SSLROOTCERT, CONNECT_TIMEOUT, STATEMENT_TIMEOUT, DROP_ON_DESTROY)
# Computed outputs.
QUALIFIED_NAME, HOLOGRES_VERSION, UNAPPLIED, ADOPTED, ON_DESTROY, TLS, GENERATION, UNEXPLAINED, DECLARED = (
    "qualifiedName", "hologresVersion", "unappliedProperties", "adopted", "onDestroy", "tls", "generation",
    "unexplainedProperties", "declaredProperties")
OUTPUT_KEYS = (QUALIFIED_NAME, HOLOGRES_VERSION, UNAPPLIED, ADOPTED, ON_DESTROY, TLS, GENERATION, UNEXPLAINED,
               DECLARED)

DEFAULTS: dict[str, Any] = {PORT: 80, SSLMODE: "require", SSLROOTCERT: "", CONNECT_TIMEOUT: 10,
                            STATEMENT_TIMEOUT: 60, DROP_ON_DESTROY: False}
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# Changing these never touches the table; any other change does (see hologres_ddl.classify).
IN_PLACE_CONNECTION_KEYS = (HOST, PORT, SSLMODE, SSLROOTCERT, CONNECT_TIMEOUT, STATEMENT_TIMEOUT, DROP_ON_DESTROY)


def top_level(path: str) -> str:
    return re.split(r"[.\[]", path)[0]


def qualified_name_of(props: Mapping[str, Any]) -> str:
    return f"{props.get(ddl.SCHEMA)}.{props.get(ddl.TABLE)}"


def rebuild_refused(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[ddl.Problem]:
    """The data-safety guard, before anything is dropped: a declared change that needs a new table
    under the same name, while the state does not already allow dropping it."""
    if olds.get(DROP_ON_DESTROY) is True or any(olds.get(k) != news.get(k) for k in (DATABASE, ddl.SCHEMA, ddl.TABLE)):
        return []
    if any(is_unknown(news.get(k)) for k in ddl.TABLE_KEYS):
        return []  # decided when known; a preview shows the replace
    try:
        old_spec, new_spec = ddl.spec_from_props(olds), ddl.spec_from_props(news)
    except (KeyError, TypeError):
        return []
    return [(c.property, f"refusing to replace table {qualified_name_of(olds)}: {c.description} needs a new table, "
                         "which drops the existing one and its rows; set dropTableOnDestroy to true and run "
                         "`pulumi up` first to allow it, or keep the old definition")
            for c in ddl.classify(old_spec, new_spec) if c.replace]


def declared_changes(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[ddl.Change]:
    """Old outputs → new (checked) inputs; unknown values count as changes, in the table as replaces."""
    changes = [ddl.Change(k, f"{k}: {olds.get(k)!r} → {news.get(k)!r}", replace=k == DATABASE)
               for k in (DATABASE, *IN_PLACE_CONNECTION_KEYS)
               if is_unknown(news.get(k)) or olds.get(k, DEFAULTS.get(k)) != news.get(k)]
    unknown = [k for k in ddl.TABLE_KEYS if is_unknown(news.get(k))]
    if unknown:
        return changes + [ddl.Change(k, f"{k}: known after apply", replace=True) for k in unknown]
    try:
        old_spec = ddl.spec_from_props(olds)
    except (KeyError, TypeError):
        return changes + [ddl.Change(ddl.TABLE, "no table in the previous state", replace=True)]
    hologres = bool(olds.get(HOLOGRES_VERSION))
    new_spec = effective_spec(news, olds.get(DECLARED))
    for change in ddl.classify(old_spec, new_spec, unexplained=olds.get(UNEXPLAINED) or {}):
        # On plain PostgreSQL the Hologres properties were never applied: changing them rebuilds nothing.
        if change.property.startswith(ddl.PROPERTIES) and not hologres:
            change = ddl.Change(change.property, change.description, replace=False)
        changes.append(change)
    return changes


def effective_spec(news: Mapping[str, Any], previous: Mapping[str, Any] | None) -> ddl.TableSpec:
    """The declared table, with bitmap/dictionary columns that left the declaration back at Hologres'
    default (otherwise a column removed from the list would keep its index forever)."""
    declared = dict(news.get(ddl.PROPERTIES) or {})
    types = {c["name"]: c["type"] for c in news.get(ddl.COLUMNS) or []}
    for key in PER_COLUMN:
        value = with_undeclared(key, declared.get(key), (previous or {}).get(key), types, declared.get("orientation"))
        if value:
            declared[key] = value
    return ddl.spec_from_props({**news, ddl.PROPERTIES: declared})


def identity_of(schema: str, table: str, generation: str) -> str:
    """What changes exactly when the table is rebuilt: its name and the generation of its creation."""
    return f"{schema}.{table}@{generation}"
