"""AlicloudServerlessCluster: the Alibaba Cloud layer under the Flink session cluster, as one component.

It declares the network (or adopts an existing one), outbound NAT for image pulls, a serverless
Kubernetes cluster (ACK Serverless or ACS), the Kubernetes provider every Kubernetes resource of the
program uses, and the CLB that fronts the JobManager's REST/UI port, with an allowlist ACL when it
faces the internet. It knows nothing of Flink beyond that port: the caller binds its REST Service to
the CLB with `rest_service_annotations` and its pods get `pod_annotations`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_alicloud as alicloud
import pulumi_kubernetes as k8s

from components.settings import AlicloudSettings, ClusterProfile, ConfigError, UiAccess

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
# Service CIDRs to choose from: the first that does not overlap the VPC wins (ACK refuses overlaps).
_SERVICE_CIDRS = ("172.21.0.0/20", "10.96.0.0/20", "192.168.240.0/20")


@dataclass(frozen=True, kw_only=True)
class ServerlessClusterArgs:
    project: str
    stack: str
    cluster_profile: ClusterProfile = "Serverless"
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

    def __post_init__(self) -> None:
        # The component's own invariants (no internet CLB without an allowlist), including two the
        # settings module does not check: IPv6 entries for an IPv4 ACL, and ECI specs on ACS.
        for index, cidr in enumerate(self.ui_allowed_cidrs):
            if ipaddress.ip_network(cidr, strict=False).version != 4:
                raise ConfigError(f"uiAllowedCidrs[{index}]",
                                  f"{cidr} is IPv6, but the CLB and its ACL are IPv4",
                                  "list IPv4 ranges only")
        if self.eci_use_specs and self.cluster_profile == "Acs":
            raise ConfigError("eciUseSpecs", "is an ECI (ACK Serverless) setting; ACS sizes pods from their "
                              "requests/limits and compute class", "pulumi config rm eciUseSpecs")
        if self.ui_access == "internet" and not self.ui_allowed_cidrs:
            raise ConfigError("uiAllowedCidrs",
                              "uiAccess internet needs an allowlist (Flink's REST API has no authentication)",
                              "pulumi config set --path 'uiAllowedCidrs[0]' 203.0.113.0/24")
        if bool(self.vpc_id) != bool(self.vswitch_ids):
            raise ConfigError("vswitchIds" if self.vpc_id else "vpcId",
                              "an existing network needs both vpcId and vswitchIds", "set both, or neither")

    @classmethod
    def from_settings(cls, settings: AlicloudSettings, *, project: str, stack: str) -> ServerlessClusterArgs:
        return cls(
            project=project,
            stack=stack,
            cluster_profile=settings.cluster_profile,
            vpc_cidr=settings.vpc_cidr,
            vswitch_cidr=settings.vswitch_cidr,
            zone_id=settings.zone_id,
            vpc_id=settings.vpc_id,
            vswitch_ids=tuple(settings.vswitch_ids),
            deletion_protection=settings.deletion_protection,
            kubernetes_version=settings.kubernetes_version,
            ui_access=settings.ui_access,
            ui_allowed_cidrs=tuple(settings.ui_allowed_cidrs),
            image_registry_mirror=settings.image_registry_mirror,
            eci_use_specs=tuple(settings.eci_use_specs),
        )

    @property
    def tags(self) -> dict[str, str]:
        return {"project": self.project, "stack": self.stack, "managed-by": "pulumi"}


# --- pure helpers ----------------------------------------------------------------------------------


def service_cidr_for(vpc_cidr: str) -> str:
    """A Kubernetes Service CIDR that does not overlap the VPC."""
    vpc = ipaddress.ip_network(vpc_cidr)
    return next(c for c in _SERVICE_CIDRS if not ipaddress.ip_network(c).overlaps(vpc))


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


# --- the component ---------------------------------------------------------------------------------


class AlicloudServerlessCluster(pulumi.ComponentResource):
    """Network, NAT, serverless cluster, Kubernetes provider and the REST/UI CLB."""

    vpc_id: pulumi.Output[str]
    vswitch_ids: pulumi.Output[list[str]]
    egress_ip: pulumi.Output[str] | None  # the SNAT address pods leave through (None: existing network)
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
        tags = args.tags
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
            service_cidr = None  # the VPC's CIDR is unknown here; ACK's default (172.21.0.0/20) applies
        else:
            vpc = alicloud.vpc.Network(f"{name}-vpc", vpc_name=f"{args.project}-{args.stack}",
                                       cidr_block=args.vpc_cidr, tags=tags, opts=child)
            vswitch = alicloud.vpc.Switch(
                f"{name}-vswitch", vswitch_name=f"{args.project}-{args.stack}", vpc_id=vpc.id,
                cidr_block=args.vswitch_cidr, zone_id=args.zone_id or self._first_nat_zone(), tags=tags,
                opts=child)
            # Our own NAT rather than the cluster's `new_nat_gateway`: it is visible in the graph,
            # deleted by Pulumi in dependency order, and its EIP is an output (the egress address
            # to allowlist at Hologres or elsewhere).
            nat = alicloud.vpc.NatGateway(
                f"{name}-nat", vpc_id=vpc.id, vswitch_id=vswitch.id, nat_type="Enhanced",
                network_type="internet", payment_type="PayAsYouGo", internet_charge_type="PayByLcu",
                nat_gateway_name=f"{args.project}-{args.stack}", tags=tags, opts=child)
            # Billed by traffic; the bandwidth is only a cap, and image pulls of ~1 GB want a high one.
            eip = alicloud.ecs.EipAddress(
                f"{name}-eip", address_name=f"{args.project}-{args.stack}-nat", bandwidth="100",
                internet_charge_type="PayByTraffic", payment_type="PayAsYouGo", tags=tags, opts=child)
            association = alicloud.ecs.EipAssociation(
                f"{name}-eip-nat", allocation_id=eip.id, instance_id=nat.id, instance_type="Nat", opts=child)
            snat = alicloud.vpc.SnatEntry(
                f"{name}-snat", snat_table_id=nat.snat_table_ids, source_vswitch_id=vswitch.id,
                snat_ip=eip.ip_address, snat_entry_name=f"{args.project}-{args.stack}",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[association]))
            self.vpc_id = vpc.id
            self.vswitch_ids = pulumi.Output.all(vswitch.id)
            vswitch_id = vswitch.id
            cluster_vswitch_ids = [vswitch.id]
            self.egress_ip = eip.ip_address
            service_cidr = service_cidr_for(args.vpc_cidr)

        # --- the cluster ---
        # cs.ManagedKubernetes with a profile is the current resource for both kinds; cs.ServerlessKubernetes
        # is deprecated. Serverless = ACK Serverless (ECI pods), closed to new accounts since 2025-02-17;
        # Acs = Container Compute Service, the serverless path for those accounts.
        cluster = alicloud.cs.ManagedKubernetes(
            f"{name}-cluster",
            name_prefix=f"{args.project}-{args.stack}-",  # unique names let a replacement be created first
            profile=args.cluster_profile,
            cluster_spec=args.cluster_spec,
            version=args.kubernetes_version,
            vswitch_ids=cluster_vswitch_ids,
            service_cidr=service_cidr,
            new_nat_gateway=False,  # the SNAT above (or the existing network's) provides outbound access
            slb_internet_enabled=True,  # public API server endpoint: `pulumi up` runs outside the VPC
            deletion_protection=args.deletion_protection,
            skip_set_certificate_authority=True,  # keep client certificates out of the state file
            delete_options=DELETE_OPTIONS,
            # retain_resources stays unset: nothing ACK created for the cluster outlives it.
            tags=tags,
            # Pods need outbound access from the first one on; on destroy, the cluster (and its pods'
            # ENIs) goes before the SNAT entry and the vSwitch.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[snat] if snat else []),
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
            acl = alicloud.slb.Acl(f"{name}-ui-acl", name=f"{args.project}-{args.stack}-flink-ui",
                                   ip_version="ipv4", tags=tags, opts=child)
            # Named by CIDR, so editing the list touches only the entries that changed.
            entries = [
                alicloud.slb.AclEntryAttachment(f"{name}-ui-acl-{entry.replace('/', '-')}", acl_id=acl.id,
                                                entry=entry, comment="flink-ui allowlist", opts=child)
                for entry in acl_entries(args.ui_allowed_cidrs)
            ]
        slb = alicloud.slb.ApplicationLoadBalancer(
            f"{name}-ui-slb",
            load_balancer_name=f"{args.project}-{args.stack}-flink-ui",
            address_type=args.ui_access,
            address_ip_version="ipv4",
            vswitch_id=vswitch_id if args.ui_access == "intranet" else None,
            instance_charge_type="PayByCLCU",  # shared-performance CLBs are no longer sold
            delete_protection="on" if args.deletion_protection else "off",
            tags=tags,
            # The CCM binds the ACL to a listener it creates on this CLB; an ACL still bound cannot be
            # deleted, so the CLB (and its listeners) must go first: it depends on the ACL.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[acl] if acl else []),
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

    def _first_nat_zone(self) -> pulumi.Output[str]:
        """The first zone offering enhanced NAT gateways: the one vSwitch hosts the NAT gateway too."""
        zones = alicloud.vpc.get_enhanced_nat_available_zones_output(
            opts=pulumi.InvokeOutputOptions(parent=self))

        def first(result: Any) -> str:
            if not result.zones:
                raise pulumi.RunError("no zone in this region offers enhanced NAT gateways; "
                                      "set zoneId (pulumi config set zoneId <zone>)")
            return result.zones[0].zone_id

        return zones.apply(first)
