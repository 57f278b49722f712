"""The program's Hologres settings under the Pulumi SDK mocks: no placeholder passes, one table name for
job and table, TLS by default, and a network path chosen on purpose (issue 15)."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from tests.harness.program import USER_SET, ProgramRun, run_program

SECRETS = {"hologresUser": "AKID-user", "hologresPassword": "S3NT1NEL-holo-secret"}
KUBECONFIG = {"target": "kubeconfig"}
TABLE, WRITER = "pulumi-python:dynamic/hologres:Table", "pulumi-python:dynamic/hologres:Writer"
SECRET = "kubernetes:core/v1:Secret"


def stopped(run: ProgramRun, key: str) -> str:
    assert run.error_type == "ConfigError", run.raw
    assert run.error is not None and "\n" not in run.error and run.error.startswith(f"config '{key}'")
    assert run.resources == [] and "Traceback" not in run.raw  # nothing declared, nothing to bill
    fix = run.error.split("Fix: ", 1)[1]
    assert subprocess.run(["bash", "-n", "-c", fix], capture_output=True).returncode == 0, fix
    return run.error


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_an_unedited_example_stack_stops_before_anything_is_declared(stack: str) -> None:
    run = run_program({}, secrets=SECRETS, stack=stack, as_shipped=True)
    assert "is required" in stopped(run, "hologresEndpoint")


@pytest.mark.parametrize(("config", "key"), [
    ({"hologresEndpoint": "hgpostcn-cn-example-cn-hangzhou-vpc.hologres.aliyuncs.com:80"}, "hologresEndpoint"),
    ({"hologresEndpoint": "<instance>-cn-hangzhou-vpc.hologres.aliyuncs.com:80"}, "hologresEndpoint"),
    ({"hologresAdminEndpoint": "hgpostcn-cn-example-cn-hangzhou.hologres.aliyuncs.com:80"}, "hologresAdminEndpoint"),
    ({"hologresDatabase": "<database>"}, "hologresDatabase"),
])
def test_example_values_are_refused_in_one_line(config: dict[str, Any], key: str) -> None:
    assert "is an example value" in stopped(run_program({**KUBECONFIG, **config}, secrets=SECRETS), key)


@pytest.mark.parametrize("name", ["a.b.c", "orders;drop table x", "Order Details", "order-details", "public."])
def test_table_names_the_connector_cannot_resolve_stop_with_one_line(name: str) -> None:
    stopped(run_program({**KUBECONFIG, "hologresTable": name}, secrets=SECRETS), "hologresTable")


@pytest.mark.parametrize(("name", "schema", "table"), [
    ('Sales."Order Details"', "sales", "Order Details"), ("ORDERS", "public", "orders"),
    ('"orders;drop table x"', "public", "orders;drop table x"),
])
def test_the_table_is_created_as_the_job_resolves_its_name(name: str, schema: str, table: str) -> None:
    run = run_program({**KUBECONFIG, "hologresTable": name}, secrets=SECRETS)
    assert run.error is None, run.raw
    created = run.one(TABLE).plain()
    assert (created["schemaName"], created["tableName"]) == (schema, table)
    assert run.one(SECRET, "flink-env").plain()["stringData"]["HOLO_TABLE_NAME"] == name == run.outputs["hologresTable"]


def test_the_admin_connection_requires_tls_by_default_and_a_replacement_deletes_first() -> None:
    run = run_program(KUBECONFIG, secrets=SECRETS)
    assert run.error is None, run.raw
    # `pulumi up --replace` never asks the provider's diff: the resource option makes it delete first.
    assert run.one(TABLE).delete_before_replace is True
    assert (run.one(TABLE).plain()["sslmode"], run.one(TABLE).plain()["sslRootCert"]) == ("require", "")
    verify = run_program({**KUBECONFIG, "hologresSslMode": "verify-full"}, secrets=SECRETS)
    assert "needs the instance's CA certificate" in stopped(verify, "hologresSslRootCert")
    verified = run_program({**KUBECONFIG, "hologresSslMode": "verify-full", "hologresSslRootCert": "ca.pem"},
                           secrets=SECRETS)
    assert verified.error is None and verified.one(TABLE).plain()["sslRootCert"] == "ca.pem"


@pytest.mark.parametrize(("config", "path", "warning"), [
    ({}, "vpc-endpoint", "the program creates a new VPC, which the Hologres VPC endpoint does not reach"),
    ({"vpcId": "vpc-bp1existing", "vswitchIds": ["vsw-1"], "serviceCidr": "10.96.0.0/20"}, "same-vpc",
     "only if vpcId is the Hologres instance's VPC"),
    ({"hologresEndpoint": "hgpostcn-cn-abc123def-cn-hangzhou.hologres.aliyuncs.com:80"}, "public",
     "through the NAT's EIP, which must be on the instance's IP allowlist (stack output egressIp)"),
])
def test_the_stack_says_which_network_path_the_pods_use(config: dict[str, Any], path: str, warning: str) -> None:
    run = run_program(config, secrets=SECRETS)
    assert run.error is None, run.raw
    assert run.outputs["hologresNetworkPath"] == path
    assert run.outputs["hologresEndpoint"] == config.get("hologresEndpoint", USER_SET["hologresEndpoint"])
    assert "egressIp" in run.outputs
    [said] = [w for w in run.warnings() if "hologresNetworkPath" in w]
    assert warning in said and f"pulumi config set hologresNetworkPath {path}" in said
    # Every stack output the advice names is one `pulumi stack output` can show.
    named = re.findall(r"stack output (\w+)", said)
    assert set(named) <= set(run.outputs), (named, sorted(run.outputs))
    confirmed = run_program({**config, "hologresNetworkPath": path}, secrets=SECRETS)
    assert confirmed.error is None and not [w for w in confirmed.warnings() if "hologresNetworkPath" in w]


def test_a_network_path_that_contradicts_the_endpoint_stops() -> None:
    run = run_program({"hologresNetworkPath": "public"}, secrets=SECRETS)
    assert "is a VPC endpoint, but hologresNetworkPath is public" in stopped(run, "hologresEndpoint")


def test_the_writer_follows_the_table_identity_so_a_rebuild_grants_it_again() -> None:
    """A rebuilt table (DROP + CREATE) loses its grants: the writer's `tableIdentity` depends on the table
    as a property, so the engine updates the writer (grants again) after the table's replacement."""
    outputs = {"__resource_outputs__": {TABLE: {"generation": "0123abcd"}}}
    run = run_program(KUBECONFIG, secrets=SECRETS, invokes=outputs)
    assert run.error is None, run.raw
    table, writer = run.one(TABLE), run.one(WRITER)
    assert writer.property_dependencies["tableIdentity"] == [table.urn]
    named = table.plain()
    assert writer.plain()["tableIdentity"] == f"{named['schemaName']}.{named['tableName']}@0123abcd"
