"""The Alibaba Cloud part of the settings: stack config → the cloud components' typed arguments.

The rules of what the cloud resources can do live with the components (`ServerlessClusterArgs`,
`StateStorageArgs`, which raise `ArgumentError` naming their own arguments); this module reads the config,
builds the arguments, and words any refusal as the one-line ConfigError naming the config key and a fix
that runs as printed. Checks here are only about reading the config (a CIDR that does not parse, a name
prefix derived from the stack name).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from components import flink_config
from components.alicloud_cluster import DEFAULT_SERVICE_CIDR, ClusterProfile, ServerlessClusterArgs, UiAccess
from components.alicloud_state import DEFAULT_PREFIX, StateStorageArgs, parse_oss_uri, uses_oss
from components.arguments import ArgumentError
from components.config_commands import config_rm, config_set
from components.config_reader import PROJECT, ConfigError, _Reader, _validated
from components.flink_state import DurableState

T = TypeVar("T")


@dataclass(frozen=True)
class AlicloudSettings:
    cluster_profile: ClusterProfile
    vpc_cidr: str
    vswitch_cidr: str
    zone_id: str | None
    vpc_id: str | None
    vswitch_ids: list[str]
    deletion_protection: bool
    kubernetes_version: str | None
    ui_access: UiAccess
    ui_allowed_cidrs: list[str]
    image_registry_mirror: str | None
    eci_use_specs: list[str]
    service_cidr: str = DEFAULT_SERVICE_CIDR
    name_prefix: str | None = None  # None: <project>-<stack>


# --- component refusals, worded for the stack config ------------------------------------------------

_EXAMPLE_CIDR = "203.0.113.0/24"
# The config key of each argument the settings fill in.
CLUSTER_KEYS = {"cluster_profile": "clusterProfile", "vpc_cidr": "vpcCidr", "vswitch_cidr": "vswitchCidr",
                "zone_id": "zoneId", "vpc_id": "vpcId", "vswitch_ids": "vswitchIds", "ui_access": "uiAccess",
                "ui_allowed_cidrs": "uiAllowedCidrs", "eci_use_specs": "eciUseSpecs", "service_cidr": "serviceCidr"}
STORAGE_KEYS = {"prefix": "stateStorage", "existing_bucket": "stateStorage", "drop_on_destroy": "dropStateOnDestroy"}


def _cluster_fix(error: ArgumentError, key: str) -> str:
    if error.argument == "ui_allowed_cidrs":
        return config_set(key if error.index is not None else f"{key}[0]", _EXAMPLE_CIDR,
                          note="IPv4 office or VPN ranges only")
    if error.given:  # one of a pair set alone
        given = CLUSTER_KEYS[error.given]
        return config_rm(given, note=f"to let the program create the network; or set {key} too")
    if error.argument == "eci_use_specs":
        return config_rm(key)
    if error.argument == "zone_id" and not error.suggestion:
        return "pulumi config set alicloud:region  # another region, where one zone offers all of them"
    if error.argument == "vpc_id":
        return config_set(key, note="asks for the VPC id; see `aliyun vpc DescribeVpcs`")
    return config_set(key, error.suggestion)


def _storage_fix(error: ArgumentError, key: str) -> str:
    return config_set(key, error.suggestion, note=None if error.suggestion else "e.g. oss://<bucket>/flink")


def _worded(build: Callable[[], T], keys: Mapping[str, str], fix: Callable[[ArgumentError, str], str]) -> T:
    """`build()`, with a component's ArgumentError as the ConfigError the user sees."""
    try:
        return build()
    except ArgumentError as error:
        key = error.where(keys)
        raise ConfigError(key, error.worded(keys), fix(error, key)) from None


def cluster_config_errors(build: Callable[[], T]) -> T:
    """Run `build` (constructing or placing ServerlessClusterArgs): refusals name config keys."""
    return _worded(build, CLUSTER_KEYS, _cluster_fix)


def storage_config_errors(build: Callable[[], T]) -> T:
    """Run `build` (constructing StateStorageArgs): refusals name config keys."""
    return _worded(build, STORAGE_KEYS, _storage_fix)


def cluster_args(settings: AlicloudSettings, *, project: str, stack: str) -> ServerlessClusterArgs:
    """The cluster component's arguments, checked by its own rules (not yet placed: see `placed`)."""
    return cluster_config_errors(lambda: ServerlessClusterArgs(
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
        service_cidr=settings.service_cidr,
        name_prefix=settings.name_prefix,
    ))


def placed(args: ServerlessClusterArgs) -> ServerlessClusterArgs:
    """The arguments with what the cloud says (zone, an existing VPC's CIDRs), before anything is declared."""
    return cluster_config_errors(args.place)


# --- reading -----------------------------------------------------------------------------------------


def _cidr(key: str, value: str, fix: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        raise ConfigError(key, f"'{value}' is not a CIDR block ({error})", fix) from None


# Cloud names start with the name prefix. The tightest limit: the cluster's `name_prefix` (≤ 37 characters,
# resource_alicloud_cs_managed_kubernetes.go) is the prefix plus "-". A letter first and letters, digits and
# hyphens only: what the cluster, CLB, ACL, NAT gateway and vSwitch names all accept.
MAX_NAME_PREFIX = 36
_NAME_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]$")


def _name_prefix(read: _Reader, stack: str) -> str | None:
    configured = read.text("namePrefix")
    value = configured or f"{PROJECT}-{stack}"
    if len(value) <= MAX_NAME_PREFIX and _NAME_PREFIX.match(value):
        return configured
    readable = re.sub(r"[^a-z0-9]+", "-", stack.lower()).strip("-")
    suggestion = f"fh-{readable}"[:MAX_NAME_PREFIX].rstrip("-")
    origin = "namePrefix" if configured else f"<project>-<stack> (stack '{stack}')"
    raise ConfigError("namePrefix", f"'{value}' from {origin} must be 2-{MAX_NAME_PREFIX} letters, digits or "
                      "hyphens, starting with a letter (the cluster's name prefix allows 37 characters)",
                      config_set("namePrefix", suggestion, note="or use a shorter stack name"))


def read_alicloud(read: _Reader, stack: str) -> AlicloudSettings:
    # Acs by default: Alibaba Cloud no longer creates ACK Serverless clusters for accounts that never had one.
    profile = read.choice("clusterProfile", ("Serverless", "Acs"), "Acs")
    vpc_id = read.text("vpcId")
    vswitch_ids = read.string_list("vswitchIds", "[0]' vsw-xxxx")
    vpc_cidr = read.text("vpcCidr", "192.168.0.0/16") or "192.168.0.0/16"
    vswitch_cidr = read.text("vswitchCidr", "192.168.0.0/24") or "192.168.0.0/24"
    vpc_net = _cidr("vpcCidr", vpc_cidr, "pulumi config set vpcCidr 192.168.0.0/16")
    if vpc_net.version != 4:
        raise ConfigError("vpcCidr", f"{vpc_cidr} is IPv6; a VPC's primary CIDR is IPv4",
                          "pulumi config set vpcCidr 192.168.0.0/16")
    vsw_net = _cidr("vswitchCidr", vswitch_cidr, "pulumi config set vswitchCidr 192.168.0.0/24")
    if not vpc_id and (vsw_net.version != vpc_net.version or not vsw_net.subnet_of(vpc_net)):  # type: ignore[arg-type]
        first_subnet = next(vpc_net.subnets(new_prefix=max(vpc_net.prefixlen, 24)))
        raise ConfigError("vswitchCidr", f"{vswitch_cidr} is not inside vpcCidr {vpc_cidr}",
                          f"pulumi config set vswitchCidr {first_subnet}")
    ui_access = read.choice("uiAccess", ("intranet", "internet"), "intranet")
    allowed = read.string_list("uiAllowedCidrs", f"[0]' {_EXAMPLE_CIDR}")
    for index, cidr in enumerate(allowed):
        key = f"uiAllowedCidrs[{index}]"
        _cidr(key, cidr, f"pulumi config set --path '{key}' {_EXAMPLE_CIDR}")
    service_cidr = read.text("serviceCidr", DEFAULT_SERVICE_CIDR) or DEFAULT_SERVICE_CIDR
    _cidr("serviceCidr", service_cidr, f"pulumi config set serviceCidr {DEFAULT_SERVICE_CIDR}")
    return AlicloudSettings(
        cluster_profile=profile,  # type: ignore[arg-type]
        vpc_cidr=vpc_cidr,
        vswitch_cidr=vswitch_cidr,
        zone_id=read.text("zoneId"),
        vpc_id=vpc_id,
        vswitch_ids=vswitch_ids,
        deletion_protection=read.boolean("deletionProtection", False),
        kubernetes_version=read.text("kubernetesVersion"),
        ui_access=ui_access,  # type: ignore[arg-type]
        ui_allowed_cidrs=allowed,
        image_registry_mirror=read.text("imageRegistryMirror"),
        eci_use_specs=read.string_list("eciUseSpecs", "[0]' ecs.c6.large"),
        service_cidr=service_cidr,
        name_prefix=_name_prefix(read, stack),
    )


# --- durable state ------------------------------------------------------------------------------------

StateDecision = StateStorageArgs | DurableState | None


def read_state_storage(read: _Reader, target: str) -> tuple[str | None, list[str]]:
    """`stateStorage` as given: a URI, "oss" (a bucket the program creates; ack), or None."""
    value = read.text("stateStorage", "oss" if target == "ack" else None)
    if value is None:
        return None, []
    if value == "oss":
        if target != "ack":
            raise ConfigError("stateStorage", "'oss' creates a bucket, which only target ack does",
                              config_set("stateStorage", note="e.g. oss://<existing-bucket>/flink, s3://…, hdfs://…"))
        return value, []
    location = _validated("stateStorage", config_set("stateStorage", note="e.g. oss://<bucket>/flink"),
                          lambda: flink_config.StateLocation(value))
    if location.scheme == "file":
        return value, [f"stateStorage '{value}' is local to each pod: savepoints do not survive a pod, "
                       "and other pods cannot read them; use a shared file system (oss://, s3://, hdfs://)"]
    return value, []


class StateConfig(Protocol):
    """What the state decision reads (a Settings)."""

    project: str
    stack: str
    target: str
    state_storage: str | None
    drop_state_on_destroy: bool


def storage_args(settings: StateConfig) -> StateStorageArgs:
    """For `stateStorage` unset or `oss` (create a bucket) or `oss://bucket/prefix` (use that one)."""
    value = (settings.state_storage or "").strip()

    def build() -> StateStorageArgs:  # any other URI than oss:// is refused by parse_oss_uri
        bucket, prefix = (None, DEFAULT_PREFIX) if value in ("", "oss") else parse_oss_uri(value)
        return StateStorageArgs(project=settings.project, stack=settings.stack, prefix=prefix,
                                existing_bucket=bucket, drop_on_destroy=settings.drop_state_on_destroy)

    return storage_config_errors(build)


def state_decision(settings: StateConfig) -> StateDecision:
    """Where state lives, decided once: on ack an OSS location gets its own bucket or RAM user (the storage
    component's arguments); any other URI is used as given; None: no durable state."""
    if settings.state_storage is None:
        return None
    if settings.target == "ack" and uses_oss(settings.state_storage):
        return storage_args(settings)
    return DurableState.at(settings.state_storage)
