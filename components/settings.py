"""Typed, validated settings from the stack configuration.

Everything the program needs is read and checked here, before any resource is declared. A bad
value stops the program with one line that names the config key and the fix (`ConfigError` is a
`pulumi.RunError`, which the CLI prints without a stack trace); every fix is a command that runs as
printed (`components.config_commands`). Keys this project does not declare are typos, and stop it too.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi

from components import flink_config, flink_metrics, flink_rest_proxy, hologres_names
from components.config_commands import config_rm, config_set, path
from components.config_reader import PROJECT, ConfigError, _check_known_keys, _config_keys, _Reader, _validated
from components.settings_jobs import JobDeadlines, JobSettings, _check_slots, _job_deadlines, _jobs

# Pinned to a patch release: reproducible pods, and the file-system plugin jar names carry the patch.
DEFAULT_IMAGE = "flink:1.20.3-java17"
DEFAULT_TABLE = "public.order_details"

Target = Literal["ack", "kubeconfig"]
ClusterProfile = Literal["Serverless", "Acs"]
UiAccess = Literal["intranet", "internet"]
HighAvailability = Literal["none", "kubernetes"]

# --- the pieces ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlinkSettings:
    image: str
    version: flink_config.FlinkVersion
    java_version: int
    size: flink_config.ClusterSize
    extra_config: Mapping[str, Any]
    rest_service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"]


@dataclass(frozen=True)
class HologresSettings:
    host: str
    port: int
    # Where the deploying machine reaches Hologres to manage the table (the VPC endpoint the job
    # uses is often unreachable from a laptop or CI); defaults to host/port.
    admin_host: str
    admin_port: int
    database: str
    table: str
    drop_table_on_destroy: bool
    # Secret Outputs: never plain strings anywhere in the program.
    user: pulumi.Output[str]
    password: pulumi.Output[str]
    sslmode: str = "require"  # TLS on the admin connection (the AccessKey and the DDL)
    ssl_root_cert: str = ""  # the instance's CA certificate, for verify-ca / verify-full
    # How the pods reach `host`: same-vpc, vpc-endpoint, public or "" (the cluster is not ours to tell).
    network_path: str = ""
    warnings: list[str] = field(default_factory=list)


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
    service_cidr: str = "172.21.0.0/20"  # = DEFAULT_SERVICE_CIDR
    name_prefix: str | None = None  # None: <project>-<stack>


@dataclass(frozen=True)
class MetricsSettings:
    port: int | None  # None: the Prometheus reporter is off
    pod_monitor: bool


@dataclass(frozen=True)
class SecuritySettings:  # issue 12: REST authentication and the job's own Hologres login
    rest_auth: bool
    credentials_rotation: str  # changing it regenerates the REST CA, certificate, password and the writer's password
    writer_login: str


@dataclass(frozen=True)
class Settings:
    project: str
    stack: str
    target: Target
    kubeconfig: pulumi.Output[str] | None
    namespace: str
    flink: FlinkSettings
    hologres: HologresSettings
    jobs: list[JobSettings]
    job_deadlines: JobDeadlines
    flink_rest_url: str | None
    alicloud: AlicloudSettings | None
    high_availability: HighAvailability
    # A URI, "oss" (the program creates a bucket; target ack), or None (no durable state).
    state_storage: str | None
    drop_state_on_destroy: bool
    warnings: list[str] = field(default_factory=list)
    metrics: MetricsSettings = field(default_factory=lambda: MetricsSettings(flink_metrics.DEFAULT_METRICS_PORT, False))
    security: SecuritySettings | None = None


# Kubernetes DNS-1123 label (namespace and Service names).
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_CPU = re.compile(r"^(\d+(\.\d{1,3})?|\d+m)$")
_ENDPOINT = re.compile(r"^(?P<host>[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(?P<port>\d{1,5}))?$")
_ALLOW_ANYONE = {"0.0.0.0/0", "::/0"}


# --- the pieces, read and checked ----------------------------------------------------------------


def _flink(read: _Reader, target: Target) -> tuple[FlinkSettings, list[str]]:
    warnings: list[str] = []
    image = read.text("flinkImage", DEFAULT_IMAGE) or DEFAULT_IMAGE
    _validated("flinkImage", config_set("flinkImage", DEFAULT_IMAGE),
               lambda: flink_config.parse_image(image))
    version = _validated("flinkVersion", config_set("flinkVersion", "1.20"),
                         lambda: flink_config.resolve_version(image, read.text("flinkVersion")))
    if flink_config.has_log4shell(version):
        warnings.append(
            f"flinkImage '{image}' (Flink {version}) ships a Log4j affected by CVE-2021-44228 (Log4Shell); "
            f"use a current image, e.g. `pulumi config set flinkImage {DEFAULT_IMAGE}`"
        )
    task_managers = read.integer("taskManagers", 2)
    task_slots = read.integer("taskSlots", 2)
    total_slots = task_managers * task_slots
    parallelism = read.integer("defaultParallelism", min(2, total_slots))
    if parallelism > total_slots:
        raise ConfigError(
            "defaultParallelism",
            f"{parallelism} exceeds the {total_slots} slots of taskManagers ({task_managers}) × taskSlots "
            f"({task_slots}); jobs would wait for slots forever",
            config_set("defaultParallelism", str(total_slots), note="or raise taskManagers/taskSlots"),
        )
    jm_memory = read.text("jobManagerMemory", "1600m") or "1600m"
    tm_memory = read.text("taskManagerMemory", "1728m") or "1728m"
    for key, value, minimum in (
        ("jobManagerMemory", jm_memory, flink_config.MIN_JOBMANAGER_PROCESS_BYTES),
        ("taskManagerMemory", tm_memory, flink_config.MIN_TASKMANAGER_PROCESS_BYTES),
    ):
        size = _validated(key, config_set(key, "1600m"), lambda v=value: flink_config.parse_memory(v))
        if size < minimum:
            raise ConfigError(key, f"{value} is below Flink's minimum process size of {minimum >> 20}m",
                              config_set(key, f"{max(minimum >> 20, 1600)}m"))
    cpus = {}
    for key in ("jobManagerCpu", "taskManagerCpu"):
        cpu = read.text(key, "1") or "1"
        if not _CPU.match(cpu) or cpu in ("0", "0m"):
            raise ConfigError(key, f"'{cpu}' is not a Kubernetes CPU quantity such as 1, 0.5 or 500m",
                              config_set(key, "1"))
        cpus[key] = cpu
    extra = read.structured("flinkConfig", dict, {}, '["state.backend.type"] rocksdb')
    reserved = sorted(k for k in extra if k in _RESERVED_FLINK_KEYS)
    if reserved:
        raise ConfigError("flinkConfig", f"sets {', '.join(reserved)}, which the program derives from other keys",
                          " && ".join(config_rm(path("flinkConfig", k)) for k in reserved)
                          + "  # then use " + ", ".join(_RESERVED_FLINK_KEYS[k] for k in reserved))
    # Serverless pods have no NodePort; the cloud layer puts an SLB in front instead.
    default_type = "LoadBalancer" if target == "ack" else "ClusterIP"
    service_type = read.choice("restServiceType", ("ClusterIP", "NodePort", "LoadBalancer"), default_type)
    if target == "ack" and service_type == "NodePort":
        raise ConfigError("restServiceType", "NodePort does not exist for serverless (ECI) pods",
                          config_rm("restServiceType", note="target ack binds the REST Service to an SLB"))
    return FlinkSettings(
        image=image,
        version=version,
        java_version=flink_config.java_version(image, version),
        size=flink_config.ClusterSize(
            task_managers=task_managers,
            task_slots=task_slots,
            default_parallelism=parallelism,
            jobmanager_memory=jm_memory,
            taskmanager_memory=tm_memory,
            jobmanager_cpu=cpus["jobManagerCpu"],
            taskmanager_cpu=cpus["taskManagerCpu"],
        ),
        extra_config=extra,
        rest_service_type=service_type,  # type: ignore[arg-type]
    ), warnings


# Options the program owns; setting them through flinkConfig would silently fight other keys.
_RESERVED_FLINK_KEYS = {
    "taskmanager.numberOfTaskSlots": "taskSlots",
    "parallelism.default": "defaultParallelism",
    "jobmanager.memory.process.size": "jobManagerMemory",
    "taskmanager.memory.process.size": "taskManagerMemory",
    "jobmanager.rpc.address": "namespace (the JobManager Service name is fixed)",
}


def _endpoint(read: _Reader, key: str, value: str) -> tuple[str, int]:
    match = _ENDPOINT.match(value)
    port = int(match["port"] or 80) if match else 0
    if not match or not 0 < port < 65536:
        raise ConfigError(key, f"'{value}' is not host:port",
                          config_set(key, note="e.g. <instance>-cn-hangzhou-vpc.hologres.aliyuncs.com:80"))
    return match["host"], port


# Values the example stacks and README show: never accepted as real (the first `up` would fail at the
# table, after the cloud resources exist and bill).
_PLACEHOLDER = re.compile(r"(^|[-.])example([-.]|$)|[<>]|xxxx", re.IGNORECASE)
# Quoted: a fix must run as printed (an unquoted <…> is a shell redirection).
_HOLOGRES_ENDPOINT_EXAMPLE = "'<instance>-cn-hangzhou-vpc.hologres.aliyuncs.com:80'"
_HOLOGRES_PUBLIC_EXAMPLE = "'<instance>-cn-hangzhou.hologres.aliyuncs.com:80'"
NETWORK_PATHS = ("same-vpc", "vpc-endpoint", "public")
_SSLMODES = ("require", "verify-ca", "verify-full", "prefer", "disable")


def _not_placeholder(key: str, value: str, fix: str) -> str:
    if _PLACEHOLDER.search(value):
        raise ConfigError(key, f"'{value}' is an example value, not your instance's (see the Hologres console)", fix)
    return value


def _network_path(read: _Reader, host: str, endpoint_key: str) -> tuple[str, list[str]]:
    """How the pods reach Hologres (README, "Hologres: how the pods reach it"): declared, or assumed
    with one warning naming the path. A VPC endpoint answers only inside the VPC it is bound to; a
    public endpoint only the addresses on the instance's allowlist (here: the NAT's EIP)."""
    declared = read.choice("hologresNetworkPath", NETWORK_PATHS, None)
    vpc_endpoint = "-vpc." in host or "-internal." in host
    if declared == "public" and vpc_endpoint:
        raise ConfigError(endpoint_key, f"'{host}' is a VPC endpoint, but hologresNetworkPath is public",
                          config_set(endpoint_key, note=f"the public endpoint, e.g. {_HOLOGRES_PUBLIC_EXAMPLE}"))
    if declared in ("same-vpc", "vpc-endpoint") and not vpc_endpoint:
        raise ConfigError(endpoint_key, f"'{host}' is not a VPC endpoint, but hologresNetworkPath is {declared}",
                          config_set(endpoint_key, note=f"the VPC endpoint, e.g. {_HOLOGRES_ENDPOINT_EXAMPLE}"))
    if read.text("target", "ack") != "ack":
        if declared:
            return declared, []
        return "", [f"target kubeconfig: the program cannot tell whether the pods reach {host}; they must run "
                    "in the instance's VPC (or one its VPC endpoint is bound to), or reach its public endpoint "
                    "from an allowlisted address"]
    if declared:
        return declared, []
    confirm = "; confirm with `pulumi config set hologresNetworkPath {}`"
    if not vpc_endpoint:
        return "public", ["hologresEndpoint is a public endpoint: the pods reach it through the NAT's EIP, which "
                          "must be on the instance's IP allowlist (stack output egressIp)" + confirm.format("public")]
    if read.text("vpcId"):
        return "same-vpc", ["the pods reach the VPC endpoint only if vpcId is the Hologres instance's VPC"
                            + confirm.format("same-vpc")]
    return "vpc-endpoint", ["the program creates a new VPC, which the Hologres VPC endpoint does not reach until "
                            "it is bound to it (Hologres console: Network information, stack output vpcId); "
                            "or set vpcId/vswitchIds to the instance's VPC" + confirm.format("vpc-endpoint")]


def _hologres(read: _Reader) -> HologresSettings:
    endpoint = read.required_text("hologresEndpoint", _HOLOGRES_ENDPOINT_EXAMPLE)
    _not_placeholder("hologresEndpoint", endpoint,
                     config_set("hologresEndpoint", note=f"asks for the value, e.g. {_HOLOGRES_ENDPOINT_EXAMPLE}"))
    host, port = _endpoint(read, "hologresEndpoint", endpoint)
    admin = read.text("hologresAdminEndpoint")
    if admin:
        _not_placeholder("hologresAdminEndpoint", admin,
                         config_set("hologresAdminEndpoint", note=f"e.g. {_HOLOGRES_PUBLIC_EXAMPLE}"))
    admin_host, admin_port = _endpoint(read, "hologresAdminEndpoint", admin) if admin else (host, port)
    database = read.required_text("hologresDatabase", "'<database>'")
    _not_placeholder("hologresDatabase", database, config_set("hologresDatabase", note="asks for the database name"))
    table = read.text("hologresTable", DEFAULT_TABLE) or DEFAULT_TABLE
    # The job's connector resolves HOLO_TABLE_NAME with holo-client's rules; the table is created from
    # the same resolution (components.hologres_names), so both name one table.
    _validated("hologresTable", f"pulumi config set hologresTable {DEFAULT_TABLE}",
               lambda: hologres_names.parse_table_name(table))
    sslmode = read.choice("hologresSslMode", _SSLMODES, "require") or "require"
    root_cert = read.text("hologresSslRootCert", "") or ""
    if sslmode in ("verify-ca", "verify-full") and not root_cert:
        raise ConfigError("hologresSslRootCert", f"sslmode {sslmode} needs the instance's CA certificate",
                          config_set("hologresSslRootCert", note="asks for the path of the CA certificate"))
    network_path, warnings = _network_path(read, host, "hologresEndpoint")
    return HologresSettings(
        host=host,
        port=port,
        admin_host=admin_host,
        admin_port=admin_port,
        database=database,
        table=table,
        drop_table_on_destroy=read.boolean("dropTableOnDestroy", False),
        user=read.secret("hologresUser", "AccessKey ID"),
        password=read.secret("hologresPassword", "AccessKey secret"),
        sslmode=sslmode,
        ssl_root_cert=root_cert,
        network_path=network_path,
        warnings=warnings,
    )


def _state_storage(read: _Reader, target: Target,
                   version: flink_config.FlinkVersion) -> tuple[str | None, list[str]]:
    """Where checkpoints and savepoints go: a bucket the program creates (ack), or the user's URI."""
    value = read.text("stateStorage", "oss" if target == "ack" else None)
    if value is None:
        return None, []
    if value == "oss":
        if target != "ack":
            raise ConfigError("stateStorage", "'oss' creates a bucket, which only target ack does",
                              config_set("stateStorage", note="e.g. oss://<existing-bucket>/flink, s3://…, hdfs://…"))
        scheme = "oss"
    else:
        location = _validated("stateStorage", config_set("stateStorage", note="e.g. oss://<bucket>/flink"),
                              lambda: flink_config.StateLocation(value))
        scheme = location.scheme
    warnings = []
    if scheme == "file":
        warnings.append(f"stateStorage '{value}' is local to each pod: savepoints do not survive a pod, "
                        "and other pods cannot read them; use a shared file system (oss://, s3://, hdfs://)")
    return value, warnings


def _cidr(key: str, value: str, fix: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        raise ConfigError(key, f"'{value}' is not a CIDR block ({error})", fix) from None


# Kubernetes Service CIDRs: ACK's own default first, then alternatives for VPCs that overlap it. ACK takes a
# private range of prefix /16 to /24 that overlaps neither the VPC nor its vSwitches (ACK "Plan the network").
DEFAULT_SERVICE_CIDR = "172.21.0.0/20"
_SERVICE_CIDRS = (DEFAULT_SERVICE_CIDR, "10.96.0.0/20", "192.168.240.0/20")
_PRIVATE = tuple(ipaddress.ip_network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
# Cloud names start with the name prefix. The tightest limit: the cluster's `name_prefix` (≤ 37 characters,
# resource_alicloud_cs_managed_kubernetes.go) is the prefix plus "-". A letter first and letters, digits and
# hyphens only: what the cluster, CLB, ACL, NAT gateway and vSwitch names all accept.
MAX_NAME_PREFIX = 36
_NAME_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]$")


def free_service_cidr(network_cidrs: list[str] | tuple[str, ...]) -> str:
    """The first candidate Service CIDR that overlaps none of `network_cidrs` (for an error's fix)."""
    nets = [ipaddress.ip_network(c) for c in network_cidrs]
    return next((c for c in _SERVICE_CIDRS if not any(ipaddress.ip_network(c).overlaps(n) for n in nets)),
                "<a private /20 outside the VPC>")


def _service_cidr(read: _Reader, vpc_cidr: str, vswitch_cidr: str, existing_vpc: bool) -> str:
    value = read.text("serviceCidr", DEFAULT_SERVICE_CIDR) or DEFAULT_SERVICE_CIDR
    network = _cidr("serviceCidr", value, f"pulumi config set serviceCidr {DEFAULT_SERVICE_CIDR}")
    if (network.version != 4 or not 16 <= network.prefixlen <= 24
            or not any(network.subnet_of(p) for p in _PRIVATE)):  # type: ignore[arg-type]
        raise ConfigError("serviceCidr", f"{value} is not a private IPv4 range of prefix /16 to /24",
                          f"pulumi config set serviceCidr {DEFAULT_SERVICE_CIDR}")
    if not existing_vpc:  # an existing VPC's CIDRs are looked up before anything is declared
        for key, cidr in (("vpcCidr", vpc_cidr), ("vswitchCidr", vswitch_cidr)):
            if ipaddress.ip_network(cidr).overlaps(network):
                raise ConfigError("serviceCidr", f"{value} overlaps {key} {cidr}",
                                  f"pulumi config set serviceCidr {free_service_cidr([vpc_cidr, vswitch_cidr])}")
    return value


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


def _alicloud(read: _Reader, stack: str) -> AlicloudSettings:
    # Acs by default: Alibaba Cloud no longer creates ACK Serverless clusters for accounts that never had one.
    profile = read.choice("clusterProfile", ("Serverless", "Acs"), "Acs")
    vpc_id = read.text("vpcId")
    vswitch_ids = read.string_list("vswitchIds", "[0]' vsw-xxxx")
    if bool(vpc_id) != bool(vswitch_ids):
        missing_key = "vswitchIds" if vpc_id else "vpcId"
        raise ConfigError(missing_key, "an existing network needs both vpcId and vswitchIds",
                          config_rm("vpcId" if vpc_id else "vswitchIds",
                                    note=f"to let the program create the network; or set {missing_key} too"))
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
    allowed = read.string_list("uiAllowedCidrs", "[0]' 203.0.113.0/24")
    for index, cidr in enumerate(allowed):
        key = f"uiAllowedCidrs[{index}]"
        network = _cidr(key, cidr, f"pulumi config set --path '{key}' 203.0.113.0/24")
        if network.version != 4 and str(network) not in _ALLOW_ANYONE:
            raise ConfigError(key, f"{cidr} is IPv6, but the SLB and its ACL are IPv4",
                              config_set(key, "203.0.113.0/24", note="IPv4 ranges only"))
        if str(network) in _ALLOW_ANYONE or network.prefixlen == 0:
            raise ConfigError(key, f"{cidr} opens Flink's REST API to the whole internet; it has no "
                              "authentication and anyone who reaches it can run code",
                              config_set(key, "203.0.113.0/24", note="your office or VPN ranges only"))
    if ui_access == "internet" and not allowed:
        raise ConfigError("uiAllowedCidrs", "uiAccess internet needs an allowlist (Flink's REST API has no "
                          "authentication)", "pulumi config set --path 'uiAllowedCidrs[0]' 203.0.113.0/24")
    eci_use_specs = read.string_list("eciUseSpecs", "[0]' ecs.c6.large")
    if eci_use_specs and profile == "Acs":
        raise ConfigError("eciUseSpecs", "is an ECI (ACK Serverless) setting; ACS sizes pods from their "
                          "requests/limits", "pulumi config rm eciUseSpecs")
    service_cidr = _service_cidr(read, vpc_cidr, vswitch_cidr, existing_vpc=bool(vpc_id))
    name_prefix = _name_prefix(read, stack)
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
        eci_use_specs=eci_use_specs,
        service_cidr=service_cidr,
        name_prefix=name_prefix,
    )


# Ports the pods already use: Flink's (8081 is the REST proxy's with restAuth), and Flink's REST behind it.
_FLINK_PORTS = (flink_config.JOBMANAGER_RPC_PORT, flink_config.BLOB_SERVER_PORT, flink_config.REST_PORT,
                flink_config.TASKMANAGER_RPC_PORT, flink_rest_proxy.FLINK_LOOPBACK_PORT)


def _metrics(read: _Reader) -> MetricsSettings:
    """metricsPort (0 turns the reporter off) and podMonitor."""
    port = read.integer("metricsPort", flink_metrics.DEFAULT_METRICS_PORT, minimum=0)
    if port > 65535 or port in _FLINK_PORTS:
        raise ConfigError("metricsPort", f"{port} is not a free TCP port in the pods (Flink uses "
                          f"{', '.join(map(str, _FLINK_PORTS))})",
                          config_set("metricsPort", str(flink_metrics.DEFAULT_METRICS_PORT)))
    pod_monitor = read.boolean("podMonitor", False)
    if pod_monitor and not port:
        raise ConfigError("podMonitor", "needs the metrics port, and metricsPort is 0",
                          config_set("metricsPort", str(flink_metrics.DEFAULT_METRICS_PORT)))
    return MetricsSettings(port or None, pod_monitor)


def _security(read: _Reader, stack: str) -> SecuritySettings:
    # Default from the stack name, made a valid login name (stacks may have '-' or '.').
    default = re.sub(r"[^A-Za-z0-9_]", "_", f"flink_{stack}")[:50] + "_writer"
    login = read.text("hologresWriterLogin", default) or default
    # Hologres prefixes custom accounts with BASIC$ (6 bytes) within the 63-byte name limit.
    if not re.fullmatch(r"[A-Za-z0-9_]{1,57}", login):
        raise ConfigError("hologresWriterLogin", f"'{login}' is not 1-57 letters, digits or '_'",
                          config_set("hologresWriterLogin", "flink_writer"))
    return SecuritySettings(rest_auth=read.boolean("restAuth", True),
                            credentials_rotation=read.text("credentialsRotation", "") or "", writer_login=login)


def load(config: pulumi.Config | None = None, stack: str | None = None,
         keys: list[str] | None = None) -> Settings:
    """Read and validate the whole stack configuration; raises ConfigError on the first bad key."""
    read = _Reader(config or pulumi.Config(PROJECT))
    stack = stack or pulumi.get_stack()
    # A typo first: whatever else looks wrong may just follow from it.
    _check_known_keys(read, _config_keys() if keys is None else keys)
    target = read.choice("target", ("ack", "kubeconfig"), "ack")
    namespace = read.text("namespace", "flink") or "flink"
    if not _DNS_LABEL.match(namespace):
        raise ConfigError("namespace", f"'{namespace}' is not a Kubernetes name (lowercase letters, digits, '-')",
                          config_set("namespace", "flink"))
    flink, warnings = _flink(read, target)  # type: ignore[arg-type]
    hologres = _hologres(read)
    jobs = _jobs(read, flink.size.default_parallelism, warnings)
    _check_slots(jobs, flink.size, single=not read.structured("jobs", list, [], "[0]' orders"))
    state_storage, state_warnings = _state_storage(read, target, flink.version)  # type: ignore[arg-type]
    warnings += state_warnings
    high_availability = read.choice("highAvailability", ("none", "kubernetes"), "none")
    if high_availability == "kubernetes" and state_storage is None:
        raise ConfigError("highAvailability", "kubernetes HA keeps job metadata in durable storage, and "
                          "stateStorage is not set", config_set("stateStorage", note="e.g. oss://<bucket>/flink"))
    rest_url = read.text("flinkRestUrl")
    if rest_url and not re.match(r"^https?://[^\s/]+", rest_url):
        raise ConfigError("flinkRestUrl", f"'{rest_url}' is not an http(s) URL",
                          config_set("flinkRestUrl", "http://127.0.0.1:8081"))
    if (any(job.jar for job in jobs) and target == "kubeconfig" and not rest_url
            and flink.rest_service_type != "LoadBalancer"):
        # Jobs are submitted from the machine running `pulumi up`, which cannot reach a cluster address.
        raise ConfigError("flinkRestUrl", f"jobs are submitted from this machine, which cannot reach the "
                          f"{flink.rest_service_type} REST Service",
                          config_set("flinkRestUrl", "http://127.0.0.1:8081",
                                     note=f"with kubectl -n {namespace} port-forward svc/flink-jobmanager-rest "
                                     "8081 running; or set restServiceType LoadBalancer"))
    alicloud = _alicloud(read, stack) if target == "ack" else None
    if any(job.jar for job in jobs) and alicloud and alicloud.ui_access == "intranet" and not rest_url:
        warnings.append("jobs are submitted through the intranet SLB, which only machines inside the VPC (or on "
                        "a VPN into it) reach; elsewhere set flinkRestUrl, e.g. through kubectl port-forward")
    return Settings(
        project=PROJECT,
        stack=stack,
        target=target,  # type: ignore[arg-type]
        # Content or a path; read as a secret either way, since content carries credentials.
        kubeconfig=read.config.get_secret("kubeconfig") if read.text("kubeconfig") else None,
        namespace=namespace,
        flink=flink,
        hologres=hologres,
        jobs=jobs,
        job_deadlines=_job_deadlines(read),
        flink_rest_url=rest_url,
        alicloud=alicloud,
        high_availability=high_availability,  # type: ignore[arg-type]
        state_storage=state_storage,
        drop_state_on_destroy=read.boolean("dropStateOnDestroy", False),
        warnings=warnings,
        metrics=_metrics(read),
        security=_security(read, stack),
    )
