"""The program against the Alibaba Cloud provider's own rules (tests/data/alicloud_provider_rules.yaml).

Mocks accept any input; the provider does not. The program runs under the SDK's mocks for each variant a
user can configure, and every Alibaba Cloud resource it registers and every data source it calls is
checked against what terraform-provider-alicloud's source says about each argument: known at all, allowed
values, length and range limits, the cloud API's name rules, required arguments present. And the rule that
makes a second `up` a no-op: an argument the API fills in when it is absent (and Read writes back) that the
provider does not mark Computed is always set by the program.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.harness.program import USER_SET, ProgramRun, run_program
from tests.test_program_flink import SECRETS

RULES = yaml.safe_load((Path(__file__).parent / "data" / "alicloud_provider_rules.yaml").read_text())
STACK_CONFIG = dict(USER_SET)  # what a user sets after the quick start (stacks other than dev have no file)
VARIANTS: dict[str, tuple[dict[str, Any], str]] = {
    "dev": ({}, "dev"),
    "prod": ({}, "prod"),
    "existing-vpc": ({"vpcId": "vpc-bp1existing", "vswitchIds": ["vsw-bp1aaa", "vsw-bp1bbb"],
                      "serviceCidr": "10.96.0.0/20"}, "dev"),
    "internet-allowlist": ({"uiAccess": "internet", "uiAllowedCidrs": ["203.0.113.0/24", "198.51.100.7"]}, "dev"),
    "acs": ({"clusterProfile": "Acs"}, "dev"),
    "serverless": ({"clusterProfile": "Serverless", "eciUseSpecs": ["ecs.c6.large"],
                    "kubernetesVersion": "1.33.1-aliyun.1", "dropStateOnDestroy": "true"}, "dev"),
    "long-stack-name": (STACK_CONFIG | {"namePrefix": "fh-team-analytics-realtime-orders"},
                        "team-analytics-realtime-orders"),
}


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request: pytest.FixtureRequest) -> ProgramRun:
    config, stack = VARIANTS[request.param]
    run = run_program(config, secrets=SECRETS, stack=stack)
    assert run.error is None, run.raw
    return run


def violations(value: Any, spec: dict[str, Any], path: str) -> list[str]:
    """What in `value` breaks the argument's rules (nested blocks checked field by field)."""
    found: list[str] = []
    if "allowed" in spec and value not in spec["allowed"]:
        found.append(f"{path}={value!r} is not one of {spec['allowed']}")
    limits = [(spec.get("length"), "length"), ((spec.get("api") or {}).get("length"), "API length")]
    for limit, what in limits:
        if limit and isinstance(value, str) and not limit[0] <= len(value) <= limit[1]:
            found.append(f"{path}: {what} {len(value)} outside {limit}")
    if spec.get("range") and not spec["range"][0] <= value <= spec["range"][1]:
        found.append(f"{path}={value} outside {spec['range']}")
    for pattern in (spec.get("pattern"), (spec.get("api") or {}).get("pattern")):
        if pattern and isinstance(value, str) and not re.match(pattern, value):
            found.append(f"{path}={value!r} does not match {pattern}")
    if spec.get("max_items") and isinstance(value, list) and len(value) > spec["max_items"]:
        found.append(f"{path}: {len(value)} items, at most {spec['max_items']}")
    if "fields" in spec:
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            found += arguments_violations(item, spec["fields"], f"{path}[{index}]")
    return found


def arguments_violations(inputs: dict[str, Any], specs: dict[str, Any], path: str) -> list[str]:
    found = [f"{path}.{key}: not in the provider rules (add it from the source, or stop setting it)"
             for key in inputs if key not in specs]
    found += [f"{path}.{key}: required" for key, spec in specs.items()
              if spec.get("mode") == "required" and key not in inputs]
    for key, value in inputs.items():
        if key in specs:
            found += violations(value, specs[key], f"{path}.{key}")
    return found


def must_set(specs: dict[str, Any]) -> list[str]:
    """Arguments the API fills in when absent and that are not Computed: unset, the next `up` differs."""
    return [key for key, spec in specs.items() if spec.get("filled_by_api") and not spec.get("computed")]


def test_every_alicloud_resource_keeps_to_the_provider_rules(variant: ProgramRun) -> None:
    resources = [r for r in variant.resources if r.type.startswith("alicloud:")]
    assert resources
    found: list[str] = []
    for resource in resources:
        rules = RULES["resources"].get(resource.type)
        if rules is None:
            found.append(f"{resource.type}: no rules recorded")
            continue
        found += arguments_violations(resource.plain(), rules["arguments"], resource.name)
    assert found == []


def test_every_data_source_call_keeps_to_the_provider_rules(variant: ProgramRun) -> None:
    calls = [c for c in variant.calls if c["token"].startswith("alicloud:")]
    assert calls
    found: list[str] = []
    for call in calls:
        rules = RULES["data_sources"].get(call["token"])
        if rules is None:
            found.append(f"{call['token']}: no rules recorded")
            continue
        found += arguments_violations(call["args"], rules["arguments"], call["token"])
    assert found == []


def test_what_the_api_would_fill_in_is_set_so_the_second_up_is_a_no_op(variant: ProgramRun) -> None:
    found = []
    for resource in (r for r in variant.resources if r.type.startswith("alicloud:")):
        inputs = resource.plain()
        found += [f"{resource.name}.{key}" for key in must_set(RULES["resources"][resource.type]["arguments"])
                  if inputs.get(key) in (None, "", [])]
    assert found == []


def test_the_rules_file_cites_its_source_for_every_entry() -> None:
    assert re.fullmatch(r"[0-9a-f]{40}", RULES["source"]["commit"])
    for kind in ("resources", "data_sources"):
        for token, rules in RULES[kind].items():
            assert rules["file"].endswith(".go"), token
            for key, spec in rules["arguments"].items():
                assert spec["tf"] and spec["mode"] in ("required", "optional"), (token, key)
                assert "line" in spec or "sdk:" in spec.get("note", ""), (token, key)
    # The rule above has teeth: these are the cluster arguments a first deploy would otherwise leave to the API.
    cluster = RULES["resources"]["alicloud:cs/managedKubernetes:ManagedKubernetes"]["arguments"]
    assert set(must_set(cluster)) == {"serviceCidr", "proxyMode", "nodeCidrMask", "timezone", "clusterDomain"}


def test_the_checks_catch_what_the_provider_would_refuse() -> None:
    cluster = RULES["resources"]["alicloud:cs/managedKubernetes:ManagedKubernetes"]["arguments"]
    assert arguments_violations({"namePrefix": "x" * 38, "proxyMode": "userspace", "bogus": 1}, cluster, "c") == [
        "c.bogus: not in the provider rules (add it from the source, or stop setting it)",
        "c.namePrefix: length 38 outside [0, 37]",
        "c.proxyMode='userspace' is not one of ['iptables', 'ipvs', 'nftables']",
    ]
    entry = RULES["resources"]["alicloud:slb/aclEntryAttachment:AclEntryAttachment"]["arguments"]
    spaced = {"aclId": "acl-1", "entry": "10.0.0.0/8", "comment": "flink-ui allowlist"}  # the old comment
    assert arguments_violations(spaced, entry, "e") == [
        "e.comment='flink-ui allowlist' does not match ^[A-Za-z0-9.,;/@_-]{2,256}$"]
    user = RULES["resources"]["alicloud:ram/user:User"]["arguments"]
    assert arguments_violations({"comments": "c" * 130}, user, "u") == [
        "u.name: required", "u.comments: length 130 outside [0, 128]"]
