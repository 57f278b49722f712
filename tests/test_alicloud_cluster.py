"""The Alibaba Cloud layer under Pulumi's own SDK mocks, and the settings checks that guard it.

Each scenario runs the component in a fresh interpreter (this file, run as a script, through
tests/harness/component_mocks.py): the Pulumi runtime keeps global state, so scenarios never share it.
The child declares one LoadBalancer Service through the component's provider and annotations, as
__main__.py does, and prints the registered resource graph (type, name, parent, provider, dependencies,
inputs with secret markers kept visible), the invokes it answered, and the component's resolved
outputs with their secret flags.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

COMPONENT = "flink-hologres:alicloud:ServerlessCluster"
NETWORK = "alicloud:vpc/network:Network"
VSWITCH = "alicloud:vpc/switch:Switch"
NAT = "alicloud:vpc/natGateway:NatGateway"
EIP = "alicloud:ecs/eipAddress:EipAddress"
EIP_ASSOCIATION = "alicloud:ecs/eipAssociation:EipAssociation"
SNAT = "alicloud:vpc/snatEntry:SnatEntry"
CLUSTER = "alicloud:cs/managedKubernetes:ManagedKubernetes"
K8S_PROVIDER = "pulumi:providers:kubernetes"
SLB = "alicloud:slb/applicationLoadBalancer:ApplicationLoadBalancer"
ACL = "alicloud:slb/acl:Acl"
ACL_ENTRY = "alicloud:slb/aclEntryAttachment:AclEntryAttachment"
SERVICE = "kubernetes:core/v1:Service"
ZONES_INVOKE = "alicloud:vpc/getEnhancedNatAvailableZones:getEnhancedNatAvailableZones"
CREDENTIAL_INVOKE = "alicloud:cs/getClusterCredential:getClusterCredential"
LB = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-"
TAGS = {"project": "flink-hologres", "stack": "dev", "managed-by": "pulumi"}

SCENARIOS: dict[str, dict[str, Any]] = {
    "serverless-intranet": {
        "cluster_profile": "Serverless", "eci_use_specs": ["ecs.c6.large", "ecs.g6.large"],
    },
    "acs-internet": {
        "cluster_profile": "Acs", "zone_id": "cn-hangzhou-j", "vpc_cidr": "172.16.0.0/12",
        "vswitch_cidr": "172.16.1.0/24", "service_cidr": "10.96.0.0/20", "deletion_protection": True,
        "kubernetes_version": "1.33.1-aliyun.1",
        "ui_access": "internet", "ui_allowed_cidrs": ["203.0.113.0/24", "198.51.100.7", "203.0.113.0/24"],
    },
    "existing-network": {"vpc_id": "vpc-bp1existing", "vswitch_ids": ["vsw-bp1aaa", "vsw-bp1bbb"],
                         "service_cidr": "192.168.240.0/20"},
}

# --- the child: one scenario under the mocks -------------------------------------------------------

from tests.harness import component_mocks  # noqa: E402
from tests.harness.component_mocks import Graph  # noqa: E402

OUTPUT_ATTRS = ("vpc_id", "vswitch_ids", "egress_ip", "cluster_id", "kubeconfig", "slb_id", "slb_address",
                "acl_id", "rest_service_annotations", "pod_annotations", "flink_rest_url", "flink_ui_url")


def _child(scenario: dict[str, Any]) -> dict[str, Any]:
    import pulumi
    import pulumi_kubernetes as k8s

    recording = component_mocks.install()
    from components.alicloud_cluster import AlicloudServerlessCluster, ServerlessClusterArgs

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        cluster = AlicloudServerlessCluster(
            "ack", args=ServerlessClusterArgs(project="flink-hologres", stack="dev", **scenario))
        # What __main__.py does with it: a LoadBalancer Service through the cluster's provider.
        k8s.core.v1.Service(
            "rest",
            metadata={"name": "flink-jobmanager-rest", "annotations": cluster.rest_service_annotations},
            spec={"type": "LoadBalancer", "ports": [{"name": "rest", "port": 8081}],
                  "selector": {"app": "flink"}},
            opts=pulumi.ResourceOptions(provider=cluster.k8s_provider))

        async def collect() -> None:
            recording.outputs.update(await component_mocks.resolve(cluster, OUTPUT_ATTRS))
            recording.outputs["k8s_provider_urn"] = await cluster.k8s_provider.urn.future()

        return pulumi.Output.from_input(collect())

    program()
    return component_mocks.as_dict(recording)


# --- the parent: run every scenario once, in parallel ----------------------------------------------


runs, graph = component_mocks.scenario_fixtures(__file__, SCENARIOS)


def scenario_graph(runs: dict[str, Graph], name: str) -> Graph:
    return runs[name]


# --- every scenario --------------------------------------------------------------------------------


def test_every_cloud_resource_is_a_child_of_the_component(graph: Graph) -> None:
    component = graph.one(COMPONENT)
    children = [r for r in graph.resources if r["type"] not in ("pulumi:pulumi:Stack", COMPONENT, SERVICE)]
    assert children
    for resource in children:
        assert resource["parent"] == component["urn"], resource["name"]


def test_taggable_resources_name_project_and_stack(graph: Graph) -> None:
    for type_ in (NETWORK, VSWITCH, NAT, EIP, CLUSTER, SLB, ACL):
        for resource in graph.all(type_):
            assert resource["inputs"]["tags"] == TAGS, resource["name"]
    assert graph.all(CLUSTER) and graph.all(SLB)


def test_cluster_is_the_current_managed_kubernetes_with_destroy_hygiene(graph: Graph) -> None:
    deprecated = "alicloud:cs/serverlessKubernetes:ServerlessKubernetes"
    assert not [r for r in graph.resources if r["type"] == deprecated]
    inputs = graph.one(CLUSTER)["inputs"]
    assert inputs["newNatGateway"] is False
    assert inputs["slbInternetEnabled"] is True
    assert inputs["skipSetCertificateAuthority"] is True
    assert inputs["namePrefix"] == "flink-hologres-dev-"
    assert inputs["clusterSpec"] == "ack.pro.small"
    assert {(o["resourceType"], o["deleteMode"]) for o in inputs["deleteOptions"]} == {
        ("SLB", "delete"), ("ALB", "delete"), ("SLS_Data", "delete"), ("SLS_ControlPlane", "delete")}
    assert "retainResources" not in inputs


def test_cluster_dns_is_chosen_at_creation_for_every_profile(graph: Graph) -> None:
    # Without a DNS add-on chosen at creation, neither ACK Serverless nor ACS resolves Service names, and
    # Flink's TaskManagers never find `flink-jobmanager`.
    assert graph.one(CLUSTER)["inputs"]["addons"] == [{"name": "managed-coredns"}]


def test_what_the_api_would_fill_in_is_explicit_so_a_second_up_is_a_no_op(graph: Graph) -> None:
    inputs = graph.one(CLUSTER)["inputs"]
    assert (inputs["proxyMode"], inputs["nodeCidrMask"], inputs["ipStack"], inputs["clusterDomain"],
            inputs["timezone"]) == ("ipvs", 24, "ipv4", "cluster.local", "Asia/Shanghai")
    assert inputs["serviceCidr"]


def test_deletion_protection_is_pulumi_protect_on_what_it_guards(runs: dict[str, Any]) -> None:
    protected = scenario_graph(runs, "acs-internet")
    assert protected.one(CLUSTER)["protect"] is True and protected.one(SLB)["protect"] is True
    assert not [r["name"] for r in protected.resources if r["protect"] and r["type"] not in (CLUSTER, SLB)]
    unprotected = scenario_graph(runs, "serverless-intranet")
    assert not [r["name"] for r in unprotected.resources if r["protect"]]


def test_kubeconfig_is_secret_and_feeds_a_provider_tied_to_the_cluster_id(graph: Graph) -> None:
    cluster_id = graph.mock_id(CLUSTER)
    assert graph.outputs["cluster_id"] == {"value": cluster_id, "secret": False}
    assert graph.outputs["kubeconfig"]["secret"] is True
    assert f"current-context: 2088-{cluster_id}" in graph.value("kubeconfig")
    provider = graph.one(K8S_PROVIDER)
    assert provider["inputs"]["kubeconfig"] == {"__secret__": graph.value("kubeconfig")}
    assert provider["inputs"]["clusterIdentifier"] == cluster_id
    assert provider["urn"] == graph.outputs["k8s_provider_urn"]
    credential_calls = [c for c in graph.calls if c["token"] == CREDENTIAL_INVOKE]
    # Long-lived credential: `pulumi destroy` reuses the provider's stored kubeconfig.
    assert credential_calls == [{"token": CREDENTIAL_INVOKE, "args": {"clusterId": cluster_id}}]


def test_the_rest_service_uses_the_cluster_provider_and_the_slb_annotations(graph: Graph) -> None:
    service = graph.one(SERVICE)
    provider = graph.one(K8S_PROVIDER)
    assert service["provider"].startswith(provider["urn"] + "::")
    annotations = service["inputs"]["metadata"]["annotations"]
    assert annotations == graph.value("rest_service_annotations")
    assert annotations[LB + "id"] == graph.mock_id(SLB) == graph.value("slb_id")
    assert annotations[LB + "force-override-listeners"] == "true"
    assert graph.one(SLB)["urn"] in service["dependencies"]


def test_rest_and_ui_urls_come_from_the_slb_address_and_port_8081(graph: Graph) -> None:
    address = graph.value("slb_address")
    assert address in ("47.96.30.40", "192.168.0.77")
    assert graph.value("flink_rest_url") == f"http://{address}:8081"
    assert graph.value("flink_ui_url") == f"http://{address}:8081/"


# --- created network with outbound NAT -------------------------------------------------------------


@pytest.mark.parametrize("name", ["serverless-intranet", "acs-internet"])
def test_created_network_has_snat_through_a_nat_gateway_and_eip(runs: dict[str, Any], name: str) -> None:
    graph = scenario_graph(runs, name)
    vpc, vswitch = graph.one(NETWORK), graph.one(VSWITCH)
    nat, eip, association, snat = graph.one(NAT), graph.one(EIP), graph.one(EIP_ASSOCIATION), graph.one(SNAT)
    scenario = SCENARIOS[name]
    assert vpc["inputs"]["cidrBlock"] == scenario.get("vpc_cidr", "192.168.0.0/16")
    assert vswitch["inputs"]["cidrBlock"] == scenario.get("vswitch_cidr", "192.168.0.0/24")
    assert vswitch["inputs"]["vpcId"] == graph.mock_id(NETWORK)
    assert nat["inputs"] | {"tags": None} == {
        "vpcId": graph.mock_id(NETWORK), "vswitchId": graph.mock_id(VSWITCH), "natType": "Enhanced",
        "networkType": "internet", "paymentType": "PayAsYouGo", "internetChargeType": "PayByLcu",
        "natGatewayName": "flink-hologres-dev", "tags": None}
    assert association["inputs"] == {"allocationId": graph.mock_id(EIP), "instanceId": graph.mock_id(NAT),
                                     "instanceType": "Nat"}
    assert eip["inputs"]["internetChargeType"] == "PayByTraffic"
    assert snat["inputs"] == {"snatTableId": "stb-bp1snat", "sourceVswitchId": graph.mock_id(VSWITCH),
                              "snatIp": "47.96.10.20", "snatEntryName": "flink-hologres-dev"}
    assert association["urn"] in snat["dependencies"]  # the EIP must be on the NAT before SNAT uses it
    cluster = graph.one(CLUSTER)
    assert cluster["inputs"]["vswitchIds"] == [graph.mock_id(VSWITCH)]
    assert snat["urn"] in cluster["dependencies"]  # pods pull images from the start; destroy order
    assert graph.outputs["egress_ip"]["value"] == "47.96.10.20"
    assert graph.value("vpc_id") == graph.mock_id(NETWORK)
    assert graph.value("vswitch_ids") == [graph.mock_id(VSWITCH)]


def test_zone_offers_everything_created_in_it_and_is_never_moved_by_a_later_up(runs: dict[str, Any]) -> None:
    # alicloud_mocks: only cn-hangzhou-j offers a vSwitch, enhanced NAT, a VPC CLB and ECI pods at once
    # (enhanced NAT lists cn-hangzhou-k first, which has no ECI: the old "first NAT zone" pick).
    default = scenario_graph(runs, "serverless-intranet")
    vswitch = default.one(VSWITCH)
    assert vswitch["inputs"]["zoneId"] == "cn-hangzhou-j"
    assert vswitch["ignore_changes"] == ["zoneId"]
    tokens = [c["token"] for c in default.calls]
    for token in (ZONES_INVOKE, "alicloud:index/getZones:getZones", "alicloud:slb/getZones:getZones",
                  "alicloud:eci/getZones:getZones"):
        assert tokens.count(token) == 1, token
    configured = scenario_graph(runs, "acs-internet")
    assert configured.one(VSWITCH)["inputs"]["zoneId"] == "cn-hangzhou-j"
    assert "alicloud:eci/getZones:getZones" not in [c["token"] for c in configured.calls]  # ACS: no ECI


def test_zone_choice_is_the_sorted_intersection() -> None:
    from components.alicloud_cluster import choose_zone
    from components.settings import ConfigError
    from components.settings_cloud import cluster_config_errors

    assert choose_zone(None, ["cn-hangzhou-j", "cn-hangzhou-k"]) == "cn-hangzhou-j"
    assert choose_zone("cn-hangzhou-k", ["cn-hangzhou-j", "cn-hangzhou-k"]) == "cn-hangzhou-k"
    with pytest.raises(ConfigError) as error:  # the component's rule, worded for the stack config
        cluster_config_errors(lambda: choose_zone("cn-hangzhou-b", ["cn-hangzhou-j", "cn-hangzhou-k"]))
    assert str(error.value) == ("config 'zoneId': cn-hangzhou-b cannot host the cluster; suitable zones: "
                                "cn-hangzhou-j, cn-hangzhou-k. Fix: pulumi config set zoneId cn-hangzhou-j")
    with pytest.raises(ConfigError, match="no zone of this region"):
        cluster_config_errors(lambda: choose_zone(None, []))


def test_service_cidr_is_explicit_and_avoids_the_vpc(runs: dict[str, Any]) -> None:
    default_vpc = scenario_graph(runs, "serverless-intranet").one(CLUSTER)["inputs"]
    assert default_vpc["serviceCidr"] == "172.21.0.0/20"
    configured = scenario_graph(runs, "acs-internet").one(CLUSTER)["inputs"]  # VPC 172.16.0.0/12
    assert configured["serviceCidr"] == "10.96.0.0/20"
    existing = scenario_graph(runs, "existing-network")
    assert existing.one(CLUSTER)["inputs"]["serviceCidr"] == "192.168.240.0/20"
    assert [c["args"] for c in existing.calls if c["token"] == "alicloud:vpc/getNetworks:getNetworks"] == [
        {"ids": ["vpc-bp1existing"]}]


def test_service_cidr_overlapping_an_existing_vpc_is_refused_before_anything_is_declared() -> None:
    from components.alicloud_cluster import check_service_cidr
    from components.settings import ConfigError
    from components.settings_cloud import cluster_config_errors

    with pytest.raises(ConfigError) as error:  # the mocked VPC's secondary CIDR is 10.10.0.0/16
        cluster_config_errors(lambda: check_service_cidr("10.10.16.0/20", ["172.16.0.0/12", "10.10.0.0/16"],
                                                         where="VPC vpc-bp1existing"))
    assert str(error.value) == ("config 'serviceCidr': 10.10.16.0/20 overlaps 10.10.0.0/16 (VPC vpc-bp1existing). "
                                "Fix: pulumi config set serviceCidr 10.96.0.0/20")


# --- profiles and protection -----------------------------------------------------------------------


def test_serverless_profile_dev_defaults_and_eci_specs(runs: dict[str, Any]) -> None:
    graph = scenario_graph(runs, "serverless-intranet")
    cluster = graph.one(CLUSTER)["inputs"]
    assert cluster["profile"] == "Serverless"
    assert cluster["deletionProtection"] is False
    assert "version" not in cluster
    assert graph.one(SLB)["inputs"]["deleteProtection"] == "off"
    assert graph.value("pod_annotations") == {"k8s.aliyun.com/eci-use-specs": "ecs.c6.large,ecs.g6.large"}


def test_acs_profile_with_protection_and_version(runs: dict[str, Any]) -> None:
    graph = scenario_graph(runs, "acs-internet")
    cluster = graph.one(CLUSTER)["inputs"]
    assert cluster["profile"] == "Acs"
    assert cluster["deletionProtection"] is True
    assert cluster["version"] == "1.33.1-aliyun.1"
    assert graph.one(SLB)["inputs"]["deleteProtection"] == "on"
    assert graph.value("pod_annotations") == {}


# --- the SLB: intranet and internet ----------------------------------------------------------------


def test_intranet_slb_sits_in_the_vswitch_without_acl(runs: dict[str, Any]) -> None:
    graph = scenario_graph(runs, "serverless-intranet")
    slb = graph.one(SLB)["inputs"]
    assert slb["addressType"] == "intranet"
    assert slb["vswitchId"] == graph.mock_id(VSWITCH)
    assert slb["instanceChargeType"] == "PayByCLCU"
    assert not graph.all(ACL) and not graph.all(ACL_ENTRY)
    assert graph.outputs["acl_id"] is None
    assert graph.value("rest_service_annotations") == {
        LB + "id": graph.mock_id(SLB), LB + "force-override-listeners": "true",
        LB + "address-type": "intranet"}


def test_internet_slb_is_guarded_by_a_white_list_acl(runs: dict[str, Any]) -> None:
    graph = scenario_graph(runs, "acs-internet")
    slb, acl = graph.one(SLB), graph.one(ACL)
    assert slb["inputs"]["addressType"] == "internet"
    assert "vswitchId" not in slb["inputs"]
    assert acl["inputs"]["ipVersion"] == "ipv4"
    entries = graph.all(ACL_ENTRY)
    # Normalised to CIDRs, duplicates dropped, each attached to our ACL.
    assert sorted(e["inputs"]["entry"] for e in entries) == ["198.51.100.7/32", "203.0.113.0/24"]
    assert {e["inputs"]["aclId"] for e in entries} == {graph.mock_id(ACL)}
    assert acl["urn"] in slb["dependencies"]  # destroy: CLB (with the CCM's listener) before the ACL
    assert graph.value("acl_id") == graph.mock_id(ACL)
    assert graph.value("rest_service_annotations") == {
        LB + "id": graph.mock_id(SLB), LB + "force-override-listeners": "true",
        LB + "address-type": "internet",
        LB + "acl-status": "on", LB + "acl-id": graph.mock_id(ACL), LB + "acl-type": "white"}
    service = graph.one(SERVICE)
    assert {e["urn"] for e in entries} <= set(service["dependencies"])  # no listener with a half-filled ACL


# --- existing network ------------------------------------------------------------------------------


def test_existing_network_is_used_as_is(runs: dict[str, Any]) -> None:
    graph = scenario_graph(runs, "existing-network")
    for type_ in (NETWORK, VSWITCH, NAT, EIP, EIP_ASSOCIATION, SNAT):
        assert not graph.all(type_), type_
    assert ZONES_INVOKE not in [c["token"] for c in graph.calls]
    cluster = graph.one(CLUSTER)
    assert cluster["inputs"]["vswitchIds"] == ["vsw-bp1aaa", "vsw-bp1bbb"]
    assert cluster["inputs"]["serviceCidr"] == "192.168.240.0/20"  # explicit: checked against the VPC's CIDRs
    assert graph.one(SLB)["inputs"]["vswitchId"] == "vsw-bp1aaa"
    assert graph.value("vpc_id") == "vpc-bp1existing"
    assert graph.value("vswitch_ids") == ["vsw-bp1aaa", "vsw-bp1bbb"]
    assert graph.outputs["egress_ip"] is None


# --- pure parts and argument guards (in process: no Pulumi runtime needed) -------------------------


def test_pure_helpers() -> None:
    from components import alicloud_cluster as ac

    assert ac.free_service_cidr(["192.168.0.0/16"]) == "172.21.0.0/20"
    assert ac.free_service_cidr(["172.16.0.0/12"]) == "10.96.0.0/20"
    assert ac.free_service_cidr(["10.0.0.0/8", "172.16.0.0/12"]) == "192.168.240.0/20"
    assert ac.acl_entries(["203.0.113.5", "203.0.113.0/24", "203.0.113.5/32"]) == ["203.0.113.5/32",
                                                                                     "203.0.113.0/24"]
    assert ac.mirror_image("flink:1.20-java17", None) == "flink:1.20-java17"
    assert ac.mirror_image("apache/flink:1.20-java17", "registry-vpc.cn-hangzhou.aliyuncs.com/team/") == (
        "registry-vpc.cn-hangzhou.aliyuncs.com/team/flink:1.20-java17")
    assert ac.pod_annotations([]) == {}
    assert ac.pod_annotations(["ecs.c6.large"]) == {"k8s.aliyun.com/eci-use-specs": "ecs.c6.large"}


@pytest.mark.parametrize(("overrides", "key"), [
    ({"ui_access": "internet", "ui_allowed_cidrs": ["2001:db8::/32"]}, "uiAllowedCidrs[0]"),
    ({"cluster_profile": "Acs", "eci_use_specs": ["ecs.c6.large"]}, "eciUseSpecs"),
    ({"ui_access": "internet"}, "uiAllowedCidrs"),
    ({"vpc_id": "vpc-1"}, "vswitchIds"),
])
def test_args_refuse_what_the_cloud_resources_cannot_do(overrides: dict[str, Any], key: str) -> None:
    from components.alicloud_cluster import ServerlessClusterArgs
    from components.settings import ConfigError
    from components.settings_cloud import cluster_config_errors

    with pytest.raises(ConfigError) as error:  # the component's rule, worded for the stack config
        cluster_config_errors(lambda: ServerlessClusterArgs(project="p", stack="s", **overrides))
    assert error.value.key == key


def test_args_from_settings_carry_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from components.alicloud_cluster import ServerlessClusterArgs

    monkeypatch.setattr(ServerlessClusterArgs, "place", lambda self: self)  # no cloud here: the mocks runs do it
    from components import settings_cloud
    from components.settings import AlicloudSettings

    settings = AlicloudSettings(
        cluster_profile="Acs", vpc_cidr="10.0.0.0/16", vswitch_cidr="10.0.1.0/24", zone_id="cn-beijing-h",
        vpc_id=None, vswitch_ids=[], deletion_protection=True, kubernetes_version="1.33.1-aliyun.1",
        ui_access="internet", ui_allowed_cidrs=["203.0.113.0/24"], image_registry_mirror="registry/ns",
        eci_use_specs=[])
    args = settings_cloud.cluster_args(settings, project="flink-hologres", stack="prod")
    assert (args.cluster_profile, args.vpc_cidr, args.vswitch_cidr, args.zone_id, args.deletion_protection,
            args.kubernetes_version, args.ui_access, tuple(args.ui_allowed_cidrs),
            args.image_registry_mirror) == (
        "Acs", "10.0.0.0/16", "10.0.1.0/24", "cn-beijing-h", True, "1.33.1-aliyun.1", "internet",
        ("203.0.113.0/24",), "registry/ns")
    assert args.tags == {"project": "flink-hologres", "stack": "prod", "managed-by": "pulumi"}


# --- settings.load refuses bad Alibaba Cloud input, naming the key ---------------------------------

_VALID = {
    "hologresEndpoint": "hgpostcn-cn-xxx-cn-hangzhou-vpc.hologres.aliyuncs.com:80",
    "hologresDatabase": "db",
    "hologresUser": "LTAI5t-example",
    "hologresPassword": "example-secret",
}


@pytest.fixture
def load_with() -> Iterator[Any]:
    import pulumi
    from pulumi.runtime import config as runtime_config

    from components import settings

    saved_config, saved_secrets = dict(runtime_config.CONFIG.get()), set(runtime_config._SECRET_KEYS.get())

    def load(**values: Any) -> settings.Settings:
        raw = {f"flink-hologres:{k}": v if isinstance(v, str) else json.dumps(v)
               for k, v in (_VALID | values).items()}
        pulumi.runtime.set_all_config(raw, ["flink-hologres:hologresUser", "flink-hologres:hologresPassword"])
        return settings.load(pulumi.Config("flink-hologres"), stack="dev")

    yield load
    pulumi.runtime.set_all_config(saved_config, list(saved_secrets))


def test_settings_default_to_what_a_new_account_can_create(load_with: Any) -> None:
    loaded = load_with()
    assert loaded.alicloud.cluster_profile == "Acs"  # ACK Serverless is closed to new accounts
    assert loaded.alicloud.service_cidr == "172.21.0.0/20"
    assert loaded.alicloud.name_prefix is None  # flink-hologres-dev
    assert load_with(clusterProfile="Serverless").alicloud.cluster_profile == "Serverless"
    assert load_with(namePrefix="fh-dev", serviceCidr="10.96.0.0/20").alicloud.name_prefix == "fh-dev"
    # An existing VPC's CIDRs are checked later, against the looked-up VPC (not vpcCidr).
    existing = load_with(vpcId="vpc-bp1existing", vswitchIds=["vsw-1"], serviceCidr="192.168.0.0/20")
    assert existing.alicloud.service_cidr == "192.168.0.0/20"


def test_settings_accept_a_valid_internet_allowlist(load_with: Any) -> None:
    loaded = load_with(uiAccess="internet", uiAllowedCidrs=["203.0.113.0/24"], clusterProfile="Acs")
    assert loaded.alicloud.ui_allowed_cidrs == ["203.0.113.0/24"]
    assert loaded.alicloud.cluster_profile == "Acs"
    assert loaded.alicloud.deletion_protection is False  # dev


@pytest.mark.parametrize(("values", "key", "says"), [
    ({"uiAccess": "internet", "uiAllowedCidrs": ["0.0.0.0/0"]}, "uiAllowedCidrs[0]", "to the whole internet"),
    ({"uiAccess": "internet", "uiAllowedCidrs": ["203.0.113.0/24", "::/0"]}, "uiAllowedCidrs[1]",
     "to the whole internet"),
    ({"uiAccess": "internet"}, "uiAllowedCidrs", "allowlist"),
    ({"uiAccess": "internet", "uiAllowedCidrs": ["203.0.113.0/33"]}, "uiAllowedCidrs[0]", "not a CIDR"),
    ({"vpcCidr": "192.168.0.0/16", "vswitchCidr": "10.0.0.0/24"}, "vswitchCidr", "not inside vpcCidr"),
    ({"vpcCidr": "192.168.300.0/16"}, "vpcCidr", "not a CIDR"),
    ({"clusterProfile": "Default"}, "clusterProfile", "not one of"),
    ({"vpcId": "vpc-bp1existing"}, "vswitchIds", "both vpcId and vswitchIds"),
    ({"serviceCidr": "192.168.0.0/20"}, "serviceCidr", "overlaps vpcCidr 192.168.0.0/16"),
    ({"vpcCidr": "10.0.0.0/16", "vswitchCidr": "10.0.1.0/24", "serviceCidr": "10.0.0.0/16"}, "serviceCidr",
     "overlaps vpcCidr"),
    ({"serviceCidr": "100.64.0.0/20"}, "serviceCidr", "private IPv4 range of prefix /16 to /24"),
    ({"serviceCidr": "172.21.0.0/25"}, "serviceCidr", "private IPv4 range of prefix /16 to /24"),
    ({"serviceCidr": "172.21.0.0"}, "serviceCidr", "private IPv4 range"),  # a /32
    ({"namePrefix": "x" * 37}, "namePrefix", "2-36 letters"),
    ({"namePrefix": "9lives"}, "namePrefix", "starting with a letter"),
])
def test_settings_refuse_bad_alicloud_input_naming_the_key(load_with: Any, values: dict[str, Any], key: str,
                                                           says: str) -> None:
    from components.settings import ConfigError

    with pytest.raises(ConfigError) as error:
        load_with(**values)
    assert error.value.key == key
    assert says in str(error.value)
    assert "\n" not in str(error.value)


if __name__ == "__main__":
    component_mocks.child_main(_child)
