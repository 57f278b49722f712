"""The shape of the code: which module may import which (read from the source, nothing imported), and the
names that tie the providers to the settings.

Layers: the config layer (`settings*`, `config_reader`) turns stack config into the components' typed
arguments; components never import it back. The Flink pieces know no cloud; the REST client and the pure
renderers import no Pulumi; nothing imports in a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from components import config_commands
from components.hologres_table import HologresTableProvider
from components.hologres_writer import HologresWriterProvider
from tests.harness import REPO_ROOT
from tests.harness.program import settings_errors
from tests.test_program_flink import KUBECONFIG, SECRETS

COMPONENTS = REPO_ROOT / "components"
# Reads the stack config; everything else takes typed arguments. config_commands is a declaration (key names,
# fix commands; no Pulumi) that providers share with the settings, so it is not part of this layer.
CONFIG_LAYER = {"settings", "settings_jobs", "settings_cloud", "settings_hologres", "config_reader"}
# The REST client: HTTP only (flink_rest_access / flink_rest_auth are its Pulumi glue, flink_rest_proxy a renderer).
REST_CLIENT = {"flink_rest", "flink_rest_base", "flink_rest_jars", "flink_rest_snapshots", "flink_rest_health"}
RENDERERS = {"flink_config", "flink_manifests", "flink_metrics", "flink_rest_proxy", "hologres_ddl",
             "hologres_names", "hologres_properties", "hologres_types"}
PULUMI = ("pulumi", "pulumi_alicloud", "pulumi_kubernetes", "pulumi_random", "pulumi_tls")


def _imports(path: Path) -> set[str]:
    """Top-level names of what `path` imports: components' modules by their short name, others by package."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = ([f"components.{alias.name}" for alias in node.names] if node.module == "components"
                     else [node.module])
        else:
            continue
        for name in names:
            found.add(name.split(".")[1] if name.startswith("components.") else f"<{name.split('.')[0]}>")
    return found


def _graph() -> dict[str, set[str]]:
    modules = {path.stem: path for path in COMPONENTS.glob("*.py") if path.stem != "__init__"}
    return {name: {dep for dep in _imports(path) if dep in modules} | {dep for dep in _imports(path)
                                                                         if dep.startswith("<")}
            for name, path in modules.items()}


def test_no_module_imports_in_a_cycle() -> None:
    graph = {name: {d for d in deps if not d.startswith("<")} for name, deps in _graph().items()}
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for dep in sorted(graph[name]):
            if state.get(dep) == "open":
                cycles.append(trail[trail.index(dep):] + [dep] if dep in trail else [name, dep])
            elif dep not in state:
                visit(dep, [*trail, dep])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_components_take_typed_arguments_and_never_import_the_config_layer() -> None:
    offenders = {name: sorted(deps & CONFIG_LAYER) for name, deps in _graph().items()
                 if name not in CONFIG_LAYER and deps & CONFIG_LAYER}
    assert offenders == {}


def test_the_flink_pieces_know_no_cloud() -> None:
    flink = {name for name in _graph() if name.startswith("flink_")}
    offenders = {name: sorted(d for d in _graph()[name] if d.startswith("alicloud") or d == "<pulumi_alicloud>")
                 for name in flink}
    assert {name: deps for name, deps in offenders.items() if deps} == {}


def test_the_rest_client_and_the_renderers_import_no_pulumi() -> None:
    graph = _graph()
    assert REST_CLIENT & set(graph) >= {"flink_rest", "flink_rest_snapshots"}
    offenders = {name: sorted(d for d in graph[name] if d.strip("<>") in PULUMI)
                 for name in (REST_CLIENT | RENDERERS) & set(graph)}
    assert {name: deps for name, deps in offenders.items() if deps} == {}


def test_the_clients_and_renderers_import_only_each_other() -> None:
    """The bottom layer: what the components build on never reaches up into them or into the config."""
    graph = _graph()
    bottom = (REST_CLIENT | RENDERERS | {"hologres_catalog", "flink_job_health"}) & set(graph)
    offenders = {name: sorted(d for d in graph[name] if not d.startswith("<") and d not in bottom) for name in bottom}
    assert {name: deps for name, deps in offenders.items() if deps} == {}


def test_the_providers_read_the_credentials_the_settings_require() -> None:
    """The engine hands the table and writer providers the stack config by key name: the same names the
    settings require as secrets, from one declaration; renaming one side alone fails here."""
    table, writer = HologresTableProvider(), HologresWriterProvider()
    keys = (table.user_config_key, table.password_config_key)
    assert keys == (config_commands.HOLOGRES_USER, config_commands.HOLOGRES_PASSWORD)
    assert (writer._admin.user_config_key, writer._admin.password_config_key) == keys
    assert all(key in config_commands.declared() for key in keys)
    # Without one of them the settings stop the program naming exactly that key.
    cases = [{"config": KUBECONFIG, "secrets": {k: v for k, v in SECRETS.items() if k != key}} for key in keys]
    assert [answer and answer["key"] for answer in settings_errors(cases)] == list(keys)


def test_readme_layout_lists_every_module_once() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):readme.index("## Tests")]
    listed = [line.split()[0] for line in layout.splitlines() if line.startswith("components/")]
    modules = sorted(f"components/{path.name}" for path in COMPONENTS.glob("*.py") if path.stem != "__init__")
    assert sorted(listed) == modules


def test_a_component_reused_without_the_settings_refuses_in_its_own_terms() -> None:
    """The rule lives in the component: without this program's settings the same refusal names the argument;
    through the settings it names the config key and a fix (settings_cloud)."""
    from components.alicloud_cluster import ServerlessClusterArgs
    from components.arguments import ArgumentError
    from components.config_reader import ConfigError
    from components.settings_cloud import cluster_config_errors

    def build() -> ServerlessClusterArgs:
        return ServerlessClusterArgs(project="p", stack="s", ui_access="internet", ui_allowed_cidrs=["2001:db8::/32"])

    with pytest.raises(ArgumentError) as refused:
        build()
    assert str(refused.value) == "ui_allowed_cidrs[0]: 2001:db8::/32 is IPv6, but the CLB and its ACL are IPv4"
    with pytest.raises(ConfigError) as worded:
        cluster_config_errors(build)
    assert str(worded.value).startswith("config 'uiAllowedCidrs[0]': 2001:db8::/32 is IPv6, but the CLB and its ACL "
                                        "are IPv4. Fix: pulumi config set --path 'uiAllowedCidrs[0]' 203.0.113.0/24")
    with pytest.raises(ArgumentError, match=r"^vswitch_ids: an existing network needs both vpc_id and vswitch_ids$"):
        ServerlessClusterArgs(project="p", stack="s", vpc_id="vpc-1")
