"""AlicloudServerlessCluster: the Alibaba Cloud layer under the Flink session cluster, as one component.

It declares the network (or adopts an existing one), outbound NAT for image pulls, a serverless
Kubernetes cluster (ACK Serverless or ACS), the Kubernetes provider every Kubernetes resource of the
program uses, and the CLB that fronts the JobManager's REST/UI port, with an allowlist ACL when it
faces the internet. It knows nothing of Flink beyond that port: the caller binds its REST Service to
the CLB with `rest_service_annotations` and its pods get `pod_annotations`.

Before anything is declared, `ServerlessClusterArgs.place()` asks the region which zones offer everything the
stack puts in its one zone, and an existing VPC's CIDRs, so a bad zone or Service CIDR stops the program with
nothing created. Provider facts cite aliyun/terraform-provider-alicloud at 81c43b67 (see
tests/data/alicloud_provider_rules.yaml, which the contract test checks every argument against).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s

from components.arguments import ArgumentError

ClusterProfile = Literal["Serverless", "Acs"]
UiAccess = Literal["intranet", "internet"]

TYPE_TOKEN = "flink-hologres:alicloud:ServerlessCluster"
REST_PORT = 8081  # the JobManager's REST API and web UI (the only Flink fact this module knows)

# ACK cloud-controller-manager (CCM) annotations that bind a `type: LoadBalancer` Service to a CLB.
LB = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-"
ANNOTATION_LB_ID = LB + "id"
ANNOTATION_FORCE_OVERRIDE = LB + "force-override-listeners"
ANNOTATION_ADDRESS_TYPE = LB + "address-type"
ANNOTATION_ACL_STATUS = LB + "acl-status"
ANNOTATION_ACL_ID = LB + "acl-id"
ANNOTATION_ACL_TYPE = LB + "acl-type"
# ECI (ACK Serverless) pod annotation: candidate instance types, tried in order.
ANNOTATION_ECI_USE_SPECS = "k8s.aliyun.com/eci-use-specs"

# ACK's cluster-side cleanup on delete: resources the cluster (or its add-ons) created itself. "delete"
# for all four, because by default ALB instances and SLS log projects are *retained* and would
# outlive `pulumi destroy`. Only takes effect once applied by an `up`, which the first `up` does.
DELETE_OPTIONS = [
    {"resource_type": kind, "delete_mode": "delete"}
    for kind in ("SLB", "ALB", "SLS_Data", "SLS_ControlPlane")
]
# CLB ACL entry comments: letters, digits and a few marks; no spaces (AddAccessControlListEntry).
ACL_ENTRY_COMMENT = "flink-ui-allowlist"
# Cluster DNS. Neither ACK Serverless nor ACS resolves Service names unless a DNS component is chosen
# when the cluster is created (ACS docs "Configure DNS resolution": "By default, ACS clusters do not provide
# DNS resolution services ... you must select CoreDNS when you create the cluster"); cs.ManagedKubernetes has
# no other switch for it than the `managed-coredns` add-on. Flink's `jobmanager.rpc.address` is a Service name.
ADDONS = [{"name": "managed-coredns"}]
# ForceNew arguments the API would otherwise fill in and Read writes back (terraform-provider-alicloud
# v1.285.0, resource_alicloud_cs_managed_kubernetes.go): set explicitly, so the second `up` is a no-op.
PROXY_MODE = "ipvs"  # the provider's default, pinned
NODE_CIDR_MASK = 24  # KubernetesClusterNodeCIDRMasksByDefault, pinned
IP_STACK = "ipv4"
CLUSTER_DOMAIN = "cluster.local"
# Optional, not Computed, and read back from the API: unset, the API's value becomes a permanent diff.
# The value upstream's own ACS acceptance test creates clusters with.
TIMEZONE = "Asia/Shanghai"
# Kubernetes Service CIDRs: ACK's own default first, then alternatives for VPCs that overlap it. ACK takes a
# private range of prefix /16 to /24 that overlaps neither the VPC nor its vSwitches (ACK "Plan the network").
DEFAULT_SERVICE_CIDR = "172.21.0.0/20"
_SERVICE_CIDRS = (DEFAULT_SERVICE_CIDR, "10.96.0.0/20", "192.168.240.0/20")
_PRIVATE = tuple(ipaddress.ip_network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_ALLOW_ANYONE = {"0.0.0.0/0", "::/0"}


@dataclass(frozen=True, kw_only=True)
class ServerlessClusterArgs:
    project: str
    stack: str
    cluster_profile: ClusterProfile = "Acs"
    vpc_cidr: str = "192.168.0.0/16"
    vswitch_cidr: str = "192.168.0.0/24"
    zone_id: str | None = None
    vpc_id: str | None = None
    vswitch_ids: Sequence[str] = ()
    deletion_protection: bool = False
    kubernetes_version: str | None = None
    cluster_spec: str = "ack.pro.small"
    ui_access: UiAccess = "intranet"
    ui_allowed_cidrs: Sequence[str] = ()
    image_registry_mirror: str | None = None
    eci_use_specs: Sequence[str] = ()
    service_cidr: str = DEFAULT_SERVICE_CIDR
    name_prefix: str | None = None  # default <project>-<stack>; settings check its length and characters
    # Filled by `place()` from the cloud before anything is declared: the zone for a new network (checked or
    # chosen) and the CIDRs of an existing VPC (which the Service CIDR must not overlap).
    existing_vpc_cidrs: Sequence[str] = ()
    placed: bool = False

    def __post_init__(self) -> None:
        # What the cloud resources cannot do, or must not: whoever builds these arguments. Problems name
        # arguments as {field}; the settings word them with the config keys (components.settings_cloud).
        for index, cidr in enumerate(self.ui_allowed_cidrs):
            network = ipaddress.ip_network(cidr, strict=False)
            if str(network) in _ALLOW_ANYONE or network.prefixlen == 0:
                raise ArgumentError("ui_allowed_cidrs", f"{cidr} opens Flink's REST API, which runs uploaded code, "
                                    "to the whole internet; list only your office or VPN ranges", index=index)
            if network.version != 4:
                raise ArgumentError("ui_allowed_cidrs", f"{cidr} is IPv6, but the CLB and its ACL are IPv4",
                                    index=index)
        if self.ui_access == "internet" and not self.ui_allowed_cidrs:
            raise ArgumentError("ui_allowed_cidrs", "{ui_access} internet needs an allowlist (Flink's REST API runs "
                                "uploaded code: only the ranges that must reach it)")
        if self.eci_use_specs and self.cluster_profile == "Acs":
            raise ArgumentError("eci_use_specs", "is an ECI (ACK Serverless) setting; ACS sizes pods from their "
                                "requests/limits")
        if bool(self.vpc_id) != bool(self.vswitch_ids):
            raise ArgumentError("vswitch_ids" if self.vpc_id else "vpc_id",
                                "an existing network needs both {vpc_id} and {vswitch_ids}",
                                given="vpc_id" if self.vpc_id else "vswitch_ids")
        service = ipaddress.ip_network(self.service_cidr)
        if (service.version != 4 or not 16 <= service.prefixlen <= 24
                or not any(service.subnet_of(p) for p in _PRIVATE)):  # type: ignore[arg-type]
            raise ArgumentError("service_cidr", f"{self.service_cidr} is not a private IPv4 range of prefix /16 "
                                "to /24", suggestion=DEFAULT_SERVICE_CIDR)
        if not self.vpc_id:  # an existing VPC's CIDRs are looked up by `place()`
            check_service_cidr(self.service_cidr, [self.vpc_cidr, self.vswitch_cidr],
                               names=["{vpc_cidr}", "{vswitch_cidr}"])

    @property
    def base_name(self) -> str:
        """What every cloud resource name starts with."""
        return self.name_prefix or f"{self.project}-{self.stack}"

    def place(self) -> ServerlessClusterArgs:
        """Ask the cloud what the network needs, before anything is declared: a bad zone or Service CIDR
        stops the program with nothing created (plain invokes, so the answers are values, not Outputs)."""
        if self.placed:
            return self
        if self.vpc_id:
            cidrs = existing_vpc_cidrs(self.vpc_id)
            check_service_cidr(self.service_cidr, cidrs, where=f"VPC {self.vpc_id}")
            return dataclasses.replace(self, existing_vpc_cidrs=tuple(cidrs), placed=True)
        suitable = suitable_zones(self.cluster_profile, self.ui_access)
        return dataclasses.replace(self, zone_id=choose_zone(self.zone_id, suitable), placed=True)

    @property
    def tags(self) -> dict[str, str]:
        return {"project": self.project, "stack": self.stack, "managed-by": "pulumi"}


# --- pure helpers ----------------------------------------------------------------------------------


def free_service_cidr(network_cidrs: Sequence[str]) -> str:
    """The first candidate Service CIDR that overlaps none of `network_cidrs`."""
    nets = [ipaddress.ip_network(c) for c in network_cidrs]
    return next((c for c in _SERVICE_CIDRS if not any(ipaddress.ip_network(c).overlaps(n) for n in nets)),
                "<a private /20 outside the VPC>")


def check_service_cidr(service_cidr: str, network_cidrs: Sequence[str], *, where: str = "",
                       names: Sequence[str] = ()) -> None:
    """ACK refuses a Service CIDR that overlaps the VPC or its vSwitches (and it would shadow them).

    `names`: the argument naming each of `network_cidrs` (as "{vpc_cidr}"); else `where` describes them."""
    service = ipaddress.ip_network(service_cidr)
    for index, cidr in enumerate(network_cidrs):
        if ipaddress.ip_network(cidr).overlaps(service):
            what = f"{names[index]} {cidr}" if names else f"{cidr} ({where})"
            raise ArgumentError("service_cidr", f"{service_cidr} overlaps {what}",
                                suggestion=free_service_cidr(network_cidrs))


def choose_zone(configured: str | None, suitable: Sequence[str]) -> str:
    """The configured zone if it can host everything, else the first suitable one (sorted: deterministic)."""
    listing = ", ".join(suitable)
    if not suitable:
        raise ArgumentError("zone_id", "no zone of this region offers everything the stack creates there "
                            "(vSwitch, enhanced NAT gateway, CLB, serverless pods)")
    if configured and configured not in suitable:
        raise ArgumentError("zone_id", f"{configured} cannot host the cluster; suitable zones: {listing}",
                            suggestion=suitable[0])
    return configured or suitable[0]


def acl_entries(cidrs: Sequence[str]) -> list[str]:
    """Allowlist entries in CIDR form (a bare address becomes /32), without duplicates."""
    return list(dict.fromkeys(str(ipaddress.ip_network(c, strict=False)) for c in cidrs))


def mirror_image(image: str, mirror: str | None) -> str:
    """The image reference pulled through `mirror` (a registry/namespace such as ACR's), if one is set.

    The mirror replaces everything before the repository name: `flink:1.20-java17` and
    `apache/flink:1.20-java17` both become `<mirror>/flink:1.20-java17`.
    """
    if not mirror:
        return image
    return f"{mirror.rstrip('/')}/{image.rsplit('/', 1)[-1]}"


def rest_service_annotations(*, slb_id: str, address_type: UiAccess, acl_id: str | None) -> dict[str, str]:
    """CCM annotations that put a LoadBalancer Service on our CLB instead of one the CCM would create."""
    annotations = {
        ANNOTATION_LB_ID: slb_id,
        # Our CLB has no listeners of its own: the CCM creates (and on Service deletion removes) them.
        ANNOTATION_FORCE_OVERRIDE: "true",
        ANNOTATION_ADDRESS_TYPE: address_type,
    }
    if acl_id:
        annotations |= {ANNOTATION_ACL_STATUS: "on", ANNOTATION_ACL_ID: acl_id, ANNOTATION_ACL_TYPE: "white"}
    return annotations


def pod_annotations(eci_use_specs: Sequence[str]) -> dict[str, str]:
    """ECI instance types to try, in order (ServerlessClusterArgs refuses them for ACS)."""
    return {ANNOTATION_ECI_USE_SPECS: ",".join(eci_use_specs)} if eci_use_specs else {}


# --- what the cloud offers (plain invokes, before anything is declared) -----------------------------


def suitable_zones(profile: ClusterProfile, ui_access: UiAccess) -> list[str]:
    """Zones of the provider's region that offer everything the stack creates in its one zone, sorted.

    The vSwitch, the enhanced NAT gateway in it, the intranet CLB in it (an internet CLB picks its own zone,
    but the same check costs nothing) and, for ACK Serverless, ECI pods. ACS publishes no zone list through
    the provider (no data source in terraform-provider-alicloud v1.285.0): for Acs the other three decide.
    """
    zones = set(alicloud.vpc.get_enhanced_nat_available_zones().ids)
    zones &= {z.id for z in alicloud.get_zones(available_resource_creation="VSwitch").zones}
    slb = alicloud.slb.get_zones(available_slb_address_type="vpc" if ui_access == "intranet" else None,
                                 available_slb_address_ip_version="ipv4")
    zones &= {z.master_zone_id for z in slb.zones}
    if profile == "Serverless":
        zones &= {zone for region in alicloud.eci.get_zones().zones for zone in region.zone_ids}
    return sorted(zones)


def existing_vpc_cidrs(vpc_id: str) -> list[str]:
    """The primary and secondary CIDRs of an existing VPC (the Service CIDR must avoid all of them)."""
    found = [v for v in alicloud.vpc.get_networks(ids=[vpc_id]).vpcs if v.id == vpc_id]
    if not found:
        raise ArgumentError("vpc_id", f"{vpc_id} is not a VPC of this account in the provider's region")
    return [found[0].cidr_block, *found[0].secondary_cidr_blocks]


# --- the component ---------------------------------------------------------------------------------


class AlicloudServerlessCluster(pulumi.ComponentResource):
    """Network, NAT, serverless cluster, Kubernetes provider and the REST/UI CLB."""

    vpc_id: pulumi.Output[str]
    vswitch_ids: pulumi.Output[list[str]]
    egress_ip: pulumi.Output[str] | None  # the SNAT address pods leave through (None: existing network)
    zone_id: pulumi.Output[str] | None  # the created vSwitch's zone, as it exists (None: existing network)
    cluster_id: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]  # secret
    k8s_provider: k8s.Provider
    slb_id: pulumi.Output[str]
    slb_address: pulumi.Output[str]
    acl_id: pulumi.Output[str] | None
    rest_service_annotations: pulumi.Output[dict[str, str]]
    pod_annotations: pulumi.Output[dict[str, str]]
    image_registry_mirror: str | None
    flink_rest_url: pulumi.Output[str]
    flink_ui_url: pulumi.Output[str]

    def __init__(self, name: str, *, args: ServerlessClusterArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        args = args.place()  # the program passes placed args; a direct caller gets the same checks
        tags, base = args.tags, args.base_name
        self.image_registry_mirror = args.image_registry_mirror

        # --- network and outbound NAT ---
        snat: alicloud.vpc.SnatEntry | None = None
        if args.vpc_id:
            # An existing network is used as is: we assume its vSwitches already reach the internet
            # (a NAT gateway with SNAT) or that images come from a VPC-reachable mirror.
            self.vpc_id = pulumi.Output.from_input(args.vpc_id)
            self.vswitch_ids = pulumi.Output.from_input(list(args.vswitch_ids))
            vswitch_id: pulumi.Input[str] = args.vswitch_ids[0]
            cluster_vswitch_ids: pulumi.Input[Sequence[pulumi.Input[str]]] = list(args.vswitch_ids)
            self.egress_ip = None
            self.zone_id = None
        else:
            vpc = alicloud.vpc.Network(f"{name}-vpc", vpc_name=base, cidr_block=args.vpc_cidr, tags=tags, opts=child)
            # The zone is fixed once the vSwitch exists: a later `up` that would choose another (the cloud's
            # offer changed, or zoneId was edited) must not plan a replacement, which would fail anyway
            # (a new vSwitch with the same CIDR cannot exist beside the old one).
            vswitch = alicloud.vpc.Switch(
                f"{name}-vswitch", vswitch_name=base, vpc_id=vpc.id, cidr_block=args.vswitch_cidr,
                zone_id=args.zone_id, tags=tags,
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["zoneId"]))
            # Our own NAT rather than the cluster's `new_nat_gateway`: it is visible in the graph,
            # deleted by Pulumi in dependency order, and its EIP is an output (the egress address
            # to allowlist at Hologres or elsewhere).
            nat = alicloud.vpc.NatGateway(
                f"{name}-nat", vpc_id=vpc.id, vswitch_id=vswitch.id, nat_type="Enhanced",
                network_type="internet", payment_type="PayAsYouGo", internet_charge_type="PayByLcu",
                nat_gateway_name=base, tags=tags, opts=child)
            # Billed by traffic; the bandwidth is only a cap, and image pulls of ~1 GB want a high one.
            eip = alicloud.ecs.EipAddress(
                f"{name}-eip", address_name=f"{base}-nat", bandwidth="100",
                internet_charge_type="PayByTraffic", payment_type="PayAsYouGo", tags=tags, opts=child)
            association = alicloud.ecs.EipAssociation(
                f"{name}-eip-nat", allocation_id=eip.id, instance_id=nat.id, instance_type="Nat", opts=child)
            snat = alicloud.vpc.SnatEntry(
                f"{name}-snat", snat_table_id=nat.snat_table_ids, source_vswitch_id=vswitch.id,
                snat_ip=eip.ip_address, snat_entry_name=base,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[association]))
            self.vpc_id = vpc.id
            self.vswitch_ids = pulumi.Output.all(vswitch.id)
            vswitch_id = vswitch.id
            cluster_vswitch_ids = [vswitch.id]
            self.egress_ip = eip.ip_address
            self.zone_id = vswitch.zone_id  # the state's zone: ignore_changes keeps it when this run chose another

        # --- the cluster ---
        # cs.ManagedKubernetes with a profile is the current resource for both kinds; cs.ServerlessKubernetes
        # is deprecated. Serverless = ACK Serverless (ECI pods), closed to new accounts since 2025-02-17;
        # Acs = Container Compute Service, the serverless path for those accounts.
        cluster = alicloud.cs.ManagedKubernetes(
            f"{name}-cluster",
            name_prefix=f"{base}-",  # unique names let a replacement be created first
            profile=args.cluster_profile,
            cluster_spec=args.cluster_spec,
            version=args.kubernetes_version,
            vswitch_ids=cluster_vswitch_ids,
            addons=ADDONS,
            service_cidr=args.service_cidr,
            proxy_mode=PROXY_MODE,
            node_cidr_mask=NODE_CIDR_MASK,
            ip_stack=IP_STACK,
            cluster_domain=CLUSTER_DOMAIN,
            timezone=TIMEZONE,
            new_nat_gateway=False,  # the SNAT above (or the existing network's) provides outbound access
            slb_internet_enabled=True,  # public API server endpoint: `pulumi up` runs outside the VPC
            deletion_protection=args.deletion_protection,
            skip_set_certificate_authority=True,  # keep client certificates out of the state file
            delete_options=DELETE_OPTIONS,
            # retain_resources stays unset: nothing ACK created for the cluster outlives it.
            tags=tags,
            # Pods need outbound access from the first one on; on destroy, the cluster (and its pods'
            # ENIs) goes before the SNAT entry and the vSwitch. `protect` with deletion protection: the
            # engine refuses the delete in `destroy`'s preview, before anything is deleted (the cloud-side
            # flag alone would stop destroy halfway, after the Kubernetes objects are gone).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[snat] if snat else [],
                                        protect=args.deletion_protection),
        )
        self.cluster_id = cluster.id

        # --- kubeconfig and the Kubernetes provider ---
        # No temporary_duration_minutes: the provider keeps this kubeconfig in state and `pulumi destroy`
        # uses it, possibly much later; a short-lived credential would lock destroy out.
        credential = alicloud.cs.get_cluster_credential_output(
            cluster_id=cluster.id, opts=pulumi.InvokeOutputOptions(parent=self))
        self.kubeconfig = pulumi.Output.secret(credential.apply(lambda c: c.kube_config))
        self.k8s_provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig,
            # Replace the provider (and with it every Kubernetes object) only when the cluster changes,
            # not when a re-issued kubeconfig differs.
            cluster_identifier=cluster.id,
            opts=child)

        # --- the CLB for the REST API / UI ---
        acl: alicloud.slb.Acl | None = None
        entries: list[alicloud.slb.AclEntryAttachment] = []
        if args.ui_access == "internet":
            acl = alicloud.slb.Acl(f"{name}-ui-acl", name=f"{base}-flink-ui",
                                   ip_version="ipv4", tags=tags, opts=child)
            # Named by CIDR, so editing the list touches only the entries that changed.
            entries = [
                alicloud.slb.AclEntryAttachment(f"{name}-ui-acl-{entry.replace('/', '-')}", acl_id=acl.id,
                                                entry=entry, comment=ACL_ENTRY_COMMENT, opts=child)
                for entry in acl_entries(args.ui_allowed_cidrs)
            ]
        slb = alicloud.slb.ApplicationLoadBalancer(
            f"{name}-ui-slb",
            load_balancer_name=f"{base}-flink-ui",
            address_type=args.ui_access,
            address_ip_version="ipv4",
            vswitch_id=vswitch_id if args.ui_access == "intranet" else None,
            instance_charge_type="PayByCLCU",  # shared-performance CLBs are no longer sold
            delete_protection="on" if args.deletion_protection else "off",
            tags=tags,
            # The CCM binds the ACL to a listener it creates on this CLB; an ACL still bound cannot be
            # deleted, so the CLB (and its listeners) must go first: it depends on the ACL.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[acl] if acl else [],
                                        protect=args.deletion_protection),
        )
        self.slb_id = slb.id
        self.slb_address = slb.address
        self.acl_id = acl.id if acl else None

        # The annotations wait for the allowlist entries, so the Service (and its listener) never
        # exists with a half-filled ACL; on destroy the Service goes before the CLB and the ACL.
        address_type = args.ui_access
        self.rest_service_annotations = pulumi.Output.all(
            slb.id, acl.id if acl else None, *[e.id for e in entries]
        ).apply(lambda v: rest_service_annotations(slb_id=v[0], address_type=address_type, acl_id=v[1]))
        self.pod_annotations = pulumi.Output.from_input(pod_annotations(args.eci_use_specs))
        self.flink_rest_url = slb.address.apply(lambda a: f"http://{a}:{REST_PORT}")
        self.flink_ui_url = slb.address.apply(lambda a: f"http://{a}:{REST_PORT}/")

        self.register_outputs({
            "vpcId": self.vpc_id,
            "vswitchIds": self.vswitch_ids,
            "egressIp": self.egress_ip,
            "zoneId": self.zone_id,
            "clusterId": self.cluster_id,
            "kubeconfig": self.kubeconfig,
            "slbId": self.slb_id,
            "slbAddress": self.slb_address,
            "aclId": self.acl_id,
            "restServiceAnnotations": self.rest_service_annotations,
            "podAnnotations": self.pod_annotations,
            "flinkRestUrl": self.flink_rest_url,
            "flinkUiUrl": self.flink_ui_url,
        })
