"""Typed, validated settings from the stack configuration.

Everything the program needs is read and checked here, before any resource is declared. A bad
value stops the program with one line that names the config key and the fix (`ConfigError` is a
`pulumi.RunError`, which the CLI prints without a stack trace).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import pulumi

from components import flink_config, flink_metrics, hologres_names

PROJECT = "flink-hologres"
# Pinned to a patch release: reproducible pods, and the file-system plugin jar names carry the patch.
DEFAULT_IMAGE = "flink:1.20.3-java17"
DEFAULT_ENTRY_CLASS = "io.hologres.flink.example.HologresSinkExample"
DEFAULT_TABLE = "public.order_details"

Target = Literal["ack", "kubeconfig"]
ClusterProfile = Literal["Serverless", "Acs"]
UiAccess = Literal["intranet", "internet"]
UpgradeMode = Literal["savepoint", "last-state", "stateless"]
UPGRADE_MODES = ("savepoint", "last-state", "stateless")
HighAvailability = Literal["none", "kubernetes"]

T = TypeVar("T")


class ConfigError(pulumi.RunError):
    """A user mistake in the stack configuration: printed as one line, without a traceback."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        super().__init__(f"config '{key}': {problem}. Fix: {fix}")
        self.key = key


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
class JobSettings:
    name: str
    jar: str | None
    entry_class: str
    args: list[str]
    parallelism: int
    upgrade_mode: UpgradeMode | None
    savepoint_dir: str | None
    allow_non_restored_state: bool = False
    flink_config: Mapping[str, str] = field(default_factory=dict)
    state: Literal["running", "suspended"] = "running"
    stable_seconds: int = 5
    require_checkpoint: bool = False
    max_checkpoint_age_seconds: int = 600
    savepoints_to_keep: int = 5
    abandon_on_unreachable: bool = False
    initial_savepoint_path: str | None = None


@dataclass(frozen=True)
class JobDeadlines:
    rest_seconds: int
    start_seconds: int
    savepoint_seconds: int


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


# --- reading helpers -----------------------------------------------------------------------------


class _Reader:
    """pulumi.Config with our error style: every failure names its key and the fix."""

    def __init__(self, config: pulumi.Config) -> None:
        self.config = config

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.config.get(key)
        return default if value is None or value.strip() == "" else value.strip()

    def required_text(self, key: str, example: str) -> str:
        value = self.text(key)
        if value is None:
            raise ConfigError(key, "is required", f"pulumi config set {key} {example}")
        return value

    def integer(self, key: str, default: int, minimum: int = 1) -> int:
        raw = self.config.get(key)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(key, f"'{raw}' is not a whole number",
                              f"pulumi config set {key} {default}") from None
        if value < minimum:
            raise ConfigError(key, f"must be at least {minimum}, got {value}",
                              f"pulumi config set {key} {max(default, minimum)}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        raw = self.config.get(key)
        if raw is None or raw.strip() == "":
            return default
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            raise ConfigError(key, f"'{raw}' is not true or false", f"pulumi config set {key} false")
        return lowered == "true"

    def choice(self, key: str, allowed: tuple[str, ...], default: str | None) -> str | None:
        value = self.text(key, default)
        if value is not None and value not in allowed:
            raise ConfigError(key, f"'{value}' is not one of {', '.join(allowed)}",
                              f"pulumi config set {key} {default or allowed[0]}")
        return value

    def structured(self, key: str, kind: type[T], default: T, example: str) -> T:
        raw = self.config.get(key)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError(key, "is not valid structured config",
                              f"pulumi config set --path '{key}{example}'") from None
        if not isinstance(value, kind):
            raise ConfigError(key, f"must be a {'list' if kind is list else 'map'}",
                              f"pulumi config set --path '{key}{example}'")
        return value

    def string_list(self, key: str, example: str) -> list[str]:
        values = self.structured(key, list, [], example)
        if not all(isinstance(v, (str, int, float)) for v in values):
            raise ConfigError(key, "must be a list of strings", f"pulumi config set --path '{key}{example}'")
        return [str(v) for v in values]

    def secret(self, key: str, what: str) -> pulumi.Output[str]:
        full_key = f"{self.config.name}:{key}"
        fix = f"pulumi config set --secret {key} <{what}>"
        if self.config.get(key) is None:
            raise ConfigError(key, "is required and missing", fix)
        # A value set without --secret sits in plaintext in Pulumi.<stack>.yaml: refuse it.
        if not pulumi.runtime.is_config_secret(full_key):
            raise ConfigError(key, "is stored in plaintext in the stack file", fix)
        return self.config.require_secret(key)


def _validated(key: str, fix: str, parse: Callable[[], T]) -> T:
    """Run a pure parser; its ValueError becomes a ConfigError for `key`."""
    try:
        return parse()
    except ValueError as error:
        raise ConfigError(key, str(error), fix) from None


# Kubernetes DNS-1123 label (namespace and Service names).
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_JOB_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$")
_JAVA_CLASS = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")
_CPU = re.compile(r"^(\d+(\.\d{1,3})?|\d+m)$")
_ENDPOINT = re.compile(r"^(?P<host>[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(?P<port>\d{1,5}))?$")
_ALLOW_ANYONE = {"0.0.0.0/0", "::/0"}


# --- the pieces, read and checked ----------------------------------------------------------------


def _flink(read: _Reader, target: Target) -> tuple[FlinkSettings, list[str]]:
    warnings: list[str] = []
    image = read.text("flinkImage", DEFAULT_IMAGE) or DEFAULT_IMAGE
    _validated("flinkImage", f"pulumi config set flinkImage {DEFAULT_IMAGE}",
               lambda: flink_config.parse_image(image))
    version = _validated("flinkVersion", "pulumi config set flinkVersion 1.20",
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
            f"pulumi config set defaultParallelism {total_slots}, or raise taskManagers/taskSlots",
        )
    jm_memory = read.text("jobManagerMemory", "1600m") or "1600m"
    tm_memory = read.text("taskManagerMemory", "1728m") or "1728m"
    for key, value, minimum in (
        ("jobManagerMemory", jm_memory, flink_config.MIN_JOBMANAGER_PROCESS_BYTES),
        ("taskManagerMemory", tm_memory, flink_config.MIN_TASKMANAGER_PROCESS_BYTES),
    ):
        size = _validated(key, f"pulumi config set {key} 1600m", lambda v=value: flink_config.parse_memory(v))
        if size < minimum:
            raise ConfigError(key, f"{value} is below Flink's minimum process size of {minimum >> 20}m",
                              f"pulumi config set {key} {max(minimum >> 20, 1600)}m")
    cpus = {}
    for key in ("jobManagerCpu", "taskManagerCpu"):
        cpu = read.text(key, "1") or "1"
        if not _CPU.match(cpu) or cpu in ("0", "0m"):
            raise ConfigError(key, f"'{cpu}' is not a Kubernetes CPU quantity such as 1, 0.5 or 500m",
                              f"pulumi config set {key} 1")
        cpus[key] = cpu
    extra = read.structured("flinkConfig", dict, {}, ".state\\.backend\\.type' rocksdb")
    reserved = sorted(k for k in extra if k in _RESERVED_FLINK_KEYS)
    if reserved:
        raise ConfigError("flinkConfig", f"sets {', '.join(reserved)}, which the program derives from other keys",
                          "remove them and use " + ", ".join(_RESERVED_FLINK_KEYS[k] for k in reserved))
    # Serverless pods have no NodePort; the cloud layer puts an SLB in front instead.
    default_type = "LoadBalancer" if target == "ack" else "ClusterIP"
    service_type = read.choice("restServiceType", ("ClusterIP", "NodePort", "LoadBalancer"), default_type)
    if target == "ack" and service_type == "NodePort":
        raise ConfigError("restServiceType", "NodePort does not exist for serverless (ECI) pods",
                          "pulumi config rm restServiceType (target ack binds the REST Service to an SLB)")
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
                          f"pulumi config set {key} {_HOLOGRES_ENDPOINT_EXAMPLE}")
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
                          f"pulumi config set {endpoint_key} {_HOLOGRES_PUBLIC_EXAMPLE}")
    if declared in ("same-vpc", "vpc-endpoint") and not vpc_endpoint:
        raise ConfigError(endpoint_key, f"'{host}' is not a VPC endpoint, but hologresNetworkPath is {declared}",
                          f"pulumi config set {endpoint_key} {_HOLOGRES_ENDPOINT_EXAMPLE}")
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
    _not_placeholder("hologresEndpoint", endpoint, f"pulumi config set hologresEndpoint {_HOLOGRES_ENDPOINT_EXAMPLE}")
    host, port = _endpoint(read, "hologresEndpoint", endpoint)
    admin = read.text("hologresAdminEndpoint")
    if admin:
        _not_placeholder("hologresAdminEndpoint", admin,
                         f"pulumi config set hologresAdminEndpoint {_HOLOGRES_PUBLIC_EXAMPLE}")
    admin_host, admin_port = _endpoint(read, "hologresAdminEndpoint", admin) if admin else (host, port)
    database = read.required_text("hologresDatabase", "'<database>'")
    _not_placeholder("hologresDatabase", database, "pulumi config set hologresDatabase '<database>'")
    table = read.text("hologresTable", DEFAULT_TABLE) or DEFAULT_TABLE
    # The job's connector resolves HOLO_TABLE_NAME with holo-client's rules; the table is created from
    # the same resolution (components.hologres_names), so both name one table.
    _validated("hologresTable", f"pulumi config set hologresTable {DEFAULT_TABLE}",
               lambda: hologres_names.parse_table_name(table))
    sslmode = read.choice("hologresSslMode", _SSLMODES, "require") or "require"
    root_cert = read.text("hologresSslRootCert", "") or ""
    if sslmode in ("verify-ca", "verify-full") and not root_cert:
        raise ConfigError("hologresSslRootCert", f"sslmode {sslmode} needs the instance's CA certificate",
                          "pulumi config set hologresSslRootCert '<path to the CA certificate>'")
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


def _security(read: _Reader, stack: str) -> SecuritySettings:
    # Default from the stack name, made a valid login name (stacks may have '-' or '.').
    default = re.sub(r"[^A-Za-z0-9_]", "_", f"flink_{stack}")[:50] + "_writer"
    login = read.text("hologresWriterLogin", default) or default
    # Hologres prefixes custom accounts with BASIC$ (6 bytes) within the 63-byte name limit.
    if not re.fullmatch(r"[A-Za-z0-9_]{1,57}", login):
        raise ConfigError("hologresWriterLogin", f"'{login}' is not 1-57 letters, digits or '_'",
                          "pulumi config set hologresWriterLogin flink_writer")
    return SecuritySettings(rest_auth=read.boolean("restAuth", True),
                            credentials_rotation=read.text("credentialsRotation", "") or "", writer_login=login)


# The single-job keys, by the field of a `jobs` entry they stand for.
_SINGLE_JOB_KEYS = {"jar": "jobJar", "entryClass": "jobEntryClass", "args": "jobArgs",
                    "parallelism": "jobParallelism", "upgradeMode": "jobUpgradeMode",
                    "savepointDir": "savepointDir", "allowNonRestoredState": "jobAllowNonRestoredState",
                    "flinkConfig": "jobFlinkConfig", "state": "jobState", "stableSeconds": "jobStableSeconds",
                    "requireCheckpoint": "jobRequireCheckpoint", "checkpointInterval": "jobCheckpointInterval",
                    "maxCheckpointAgeSeconds": "jobMaxCheckpointAgeSeconds",
                    "savepointsToKeep": "jobSavepointsToKeep", "abandonOnUnreachable": "jobAbandonOnUnreachable",
                    "initialSavepointPath": "jobInitialSavepointPath"}
# Read from the released flink-dist jars of 1.18.1, 1.20.3 and 2.2.0 (CheckpointingOptions /
# ExecutionCheckpointingOptions): the same keys in all three (see components/flink_job_spec.py).
_CHECKPOINT_RETENTION = "execution.checkpointing.externalized-checkpoint-retention"
_CHECKPOINT_INTERVAL = "execution.checkpointing.interval"
_CHECKPOINT_DIRS = ("state.checkpoints.dir", "execution.checkpointing.dir")


def _whole(raw: Mapping[str, Any], key_of: Callable[[str], str], field_: str, default: int, minimum: int) -> int:
    value = raw.get(field_)
    value = default if value is None or value == "" else value
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(key_of(field_), f"'{value}' is not a whole number ≥ {minimum}",
                          f"pulumi config set {key_of(field_)} {default}")
    return value


def _flag(raw: Mapping[str, Any], key_of: Callable[[str], str], field_: str) -> bool:
    value = raw.get(field_, False)
    if not isinstance(value, bool):
        raise ConfigError(key_of(field_), f"'{value}' is not true or false", f"pulumi config set {key_of(field_)} true")
    return value


def _lifecycle(raw: Mapping[str, Any], key_of: Callable[[str], str], mode: str | None,
               flink_options: dict[str, str], location_known: bool) -> dict[str, Any]:
    """Suspend, health gate, retention, abandon opt-in, and the checkpointing last-state needs."""
    state = raw.get("state") or "running"
    if state not in ("running", "suspended"):
        raise ConfigError(key_of("state"), f"'{state}' is not running or suspended",
                          f"pulumi config set {key_of('state')} suspended")
    if mode == "last-state":
        if not location_known and not any(flink_options.get(k) for k in _CHECKPOINT_DIRS):
            raise ConfigError(key_of("upgradeMode"), "last-state restores from retained checkpoints, and no "
                              "checkpoint location is set", "pulumi config set stateStorage oss://<bucket>/flink")
        interval = str(raw.get("checkpointInterval") or "30 s")
        if not re.match(r"^\d+\s*(ms|s|min|h)?$", interval):
            raise ConfigError(key_of("checkpointInterval"), f"'{interval}' is not a duration such as 30 s",
                              f"pulumi config set {key_of('checkpointInterval')} '30 s'")
        flink_options.setdefault(_CHECKPOINT_INTERVAL, interval)
        retention = flink_options.setdefault(_CHECKPOINT_RETENTION, "RETAIN_ON_CANCELLATION")
        if retention != "RETAIN_ON_CANCELLATION":
            raise ConfigError(key_of("flinkConfig"), f"last-state needs {_CHECKPOINT_RETENTION} "
                              f"RETAIN_ON_CANCELLATION, not {retention}",
                              f"pulumi config rm --path '{key_of('flinkConfig')}[\"{_CHECKPOINT_RETENTION}\"]'")
    return {"state": state, "stable_seconds": _whole(raw, key_of, "stableSeconds", 5, 0),
            "require_checkpoint": _flag(raw, key_of, "requireCheckpoint"),
            "max_checkpoint_age_seconds": _whole(raw, key_of, "maxCheckpointAgeSeconds", 600, 1),
            "savepoints_to_keep": _whole(raw, key_of, "savepointsToKeep", 5, 1),
            "abandon_on_unreachable": _flag(raw, key_of, "abandonOnUnreachable"),
            "initial_savepoint_path": str(raw["initialSavepointPath"]) if raw.get("initialSavepointPath") else None}


def _job(raw: Mapping[str, Any], name: str, key_of: Callable[[str], str], default_parallelism: int,
         location_known: bool = True) -> JobSettings:
    """One job, from a `jobs` entry or from the single-job keys; `key_of` names a field's config key."""
    jar = raw.get("jar")
    if jar and not os.path.isfile(str(jar)):
        raise ConfigError(key_of("jar"), f"'{jar}' is not a file (paths are relative to the project directory)",
                          f"build the job jar, or pulumi config set {key_of('jar')} <path to the jar>")
    entry_class = str(raw.get("entryClass") or DEFAULT_ENTRY_CLASS)
    if not _JAVA_CLASS.match(entry_class):
        raise ConfigError(key_of("entryClass"), f"'{entry_class}' is not a Java class name",
                          "use a name such as com.example.Main")
    args = raw.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, (str, int, float)) for a in args):
        raise ConfigError(key_of("args"), "must be a list of strings",
                          f"pulumi config set --path '{key_of('args')}[0]' --flag")
    parallelism = raw.get("parallelism") or default_parallelism
    if not isinstance(parallelism, int) or isinstance(parallelism, bool) or parallelism < 1:
        raise ConfigError(key_of("parallelism"), f"'{parallelism}' is not a whole number ≥ 1",
                          f"pulumi config set {key_of('parallelism')} 2")
    mode = raw.get("upgradeMode") or None
    if mode not in (None, *UPGRADE_MODES):
        raise ConfigError(key_of("upgradeMode"), f"'{mode}' is not savepoint, last-state or stateless",
                          f"pulumi config set {key_of('upgradeMode')} savepoint")
    savepoint_dir = raw.get("savepointDir") or None
    if savepoint_dir and "://" not in str(savepoint_dir) and not str(savepoint_dir).startswith("/"):
        raise ConfigError(key_of("savepointDir"), f"'{savepoint_dir}' is not a URI every Flink pod can reach",
                          f"pulumi config set {key_of('savepointDir')} oss://<bucket>/flink/savepoints")
    allow = raw.get("allowNonRestoredState", False)
    if not isinstance(allow, bool):
        raise ConfigError(key_of("allowNonRestoredState"), f"'{allow}' is not true or false",
                          f"pulumi config set {key_of('allowNonRestoredState')} false")
    flink_options = raw.get("flinkConfig") or {}
    if not isinstance(flink_options, dict):
        raise ConfigError(key_of("flinkConfig"), "must be a map of Flink options",
                          f"pulumi config set --path '{key_of('flinkConfig')}[\"pipeline.name\"]' orders")
    options = {str(k): str(v) for k, v in flink_options.items()}
    lifecycle = _lifecycle(raw, key_of, mode, options, location_known)
    return JobSettings(name=name, jar=str(jar) if jar else None, entry_class=entry_class,
                       args=[str(a) for a in args], parallelism=parallelism, upgrade_mode=mode,
                       savepoint_dir=savepoint_dir, allow_non_restored_state=allow,
                       flink_config=options, **lifecycle)


def _jobs(read: _Reader, default_parallelism: int) -> list[JobSettings]:
    # target ack creates a bucket when stateStorage is empty; elsewhere stateStorage is the location.
    location_known = bool(read.text("stateStorage")) or (read.text("target") or "ack") == "ack"
    listed = read.structured("jobs", list, [], "[0].name' orders")
    if listed:
        jobs = []
        for index, raw in enumerate(listed):
            if not isinstance(raw, dict):
                raise ConfigError(f"jobs[{index}]", "must be a map with name, jar, entryClass…",
                                  f"pulumi config set --path 'jobs[{index}].name' orders")
            name = str(raw.get("name", ""))
            if not _JOB_NAME.match(name):
                raise ConfigError(f"jobs[{index}].name", f"'{name}' is not a short lowercase name",
                                  f"pulumi config set --path 'jobs[{index}].name' orders")
            jobs.append(_job(raw, name, lambda field, i=index: f"jobs[{i}].{field}", default_parallelism,
                             location_known))
        names = [job.name for job in jobs]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise ConfigError("jobs", f"the name '{duplicate}' is used twice", "give every job its own name")
        return jobs
    single: dict[str, Any] = {
        "jar": read.text("jobJar"),
        "entryClass": read.text("jobEntryClass", DEFAULT_ENTRY_CLASS),
        "args": read.string_list("jobArgs", "[0]' --flag"),
        # 0 (the Pulumi.yaml default) means "the cluster's defaultParallelism".
        "parallelism": read.integer("jobParallelism", 0, minimum=0),
        "upgradeMode": read.choice("jobUpgradeMode", UPGRADE_MODES, None),
        "savepointDir": read.text("savepointDir"),
        "allowNonRestoredState": read.boolean("jobAllowNonRestoredState", False),
        "flinkConfig": read.structured("jobFlinkConfig", dict, {}, "[\"pipeline.name\"]' orders"),
        "state": read.choice("jobState", ("running", "suspended"), "running"),
        "stableSeconds": read.integer("jobStableSeconds", 5, minimum=0),
        "requireCheckpoint": read.boolean("jobRequireCheckpoint", False),
        "checkpointInterval": read.text("jobCheckpointInterval", "30 s"),
        "maxCheckpointAgeSeconds": read.integer("jobMaxCheckpointAgeSeconds", 600),
        "savepointsToKeep": read.integer("jobSavepointsToKeep", 5),
        "abandonOnUnreachable": read.boolean("jobAbandonOnUnreachable", False),
        "initialSavepointPath": read.text("jobInitialSavepointPath"),
    }
    return [_job(single, "main", _SINGLE_JOB_KEYS.__getitem__, default_parallelism, location_known)]


def _job_deadlines(read: _Reader) -> JobDeadlines:
    return JobDeadlines(rest_seconds=read.integer("jobRestDeadlineSeconds", 300),
                        start_seconds=read.integer("jobStartDeadlineSeconds", 300),
                        savepoint_seconds=read.integer("savepointDeadlineSeconds", 600))


def _state_storage(read: _Reader, target: Target,
                   version: flink_config.FlinkVersion) -> tuple[str | None, list[str]]:
    """Where checkpoints and savepoints go: a bucket the program creates (ack), or the user's URI."""
    value = read.text("stateStorage", "oss" if target == "ack" else None)
    if value is None:
        return None, []
    if value == "oss":
        if target != "ack":
            raise ConfigError("stateStorage", "'oss' creates a bucket, which only target ack does",
                              "pulumi config set stateStorage oss://<existing-bucket>/flink (or s3://, hdfs://)")
        scheme = "oss"
    else:
        location = _validated("stateStorage", "pulumi config set stateStorage oss://<bucket>/flink",
                              lambda: flink_config.StateLocation(value))
        scheme = location.scheme
    _validated("flinkVersion", f"pulumi config set flinkVersion {version}.0 (the image's exact Flink version)",
               lambda: flink_config.filesystem_plugin_jar(scheme, version))
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
                      f"pulumi config set namePrefix {suggestion} (or use a shorter stack name)")


def _alicloud(read: _Reader, stack: str) -> AlicloudSettings:
    # Acs by default: Alibaba Cloud no longer creates ACK Serverless clusters for accounts that never had one.
    profile = read.choice("clusterProfile", ("Serverless", "Acs"), "Acs")
    vpc_id = read.text("vpcId")
    vswitch_ids = read.string_list("vswitchIds", "[0]' vsw-xxxx")
    if bool(vpc_id) != bool(vswitch_ids):
        missing_key = "vswitchIds" if vpc_id else "vpcId"
        raise ConfigError(missing_key, "an existing network needs both vpcId and vswitchIds",
                          f"set {missing_key} too, or remove both to let the program create the network")
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
            raise ConfigError(key, f"{cidr} is IPv6, but the SLB and its ACL are IPv4", "list IPv4 ranges only")
        if str(network) in _ALLOW_ANYONE or network.prefixlen == 0:
            raise ConfigError(key, f"{cidr} opens Flink's REST API to the whole internet; it has no "
                              "authentication and anyone who reaches it can run code",
                              "list only your office or VPN ranges")
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


_FLINK_PORTS = (flink_config.JOBMANAGER_RPC_PORT, flink_config.BLOB_SERVER_PORT, flink_config.REST_PORT,
                flink_config.TASKMANAGER_RPC_PORT, flink_config.QUERYABLE_STATE_PROXY_PORT)


def _metrics(read: _Reader) -> MetricsSettings:
    """metricsPort (0 turns the reporter off) and podMonitor."""
    port = read.integer("metricsPort", flink_metrics.DEFAULT_METRICS_PORT, minimum=0)
    if port > 65535 or port in _FLINK_PORTS:
        raise ConfigError("metricsPort", f"{port} is not a free TCP port in the pods (Flink uses "
                          f"{', '.join(map(str, _FLINK_PORTS))})",
                          f"pulumi config set metricsPort {flink_metrics.DEFAULT_METRICS_PORT}")
    pod_monitor = read.boolean("podMonitor", False)
    if pod_monitor and not port:
        raise ConfigError("podMonitor", "needs the metrics port, and metricsPort is 0",
                          f"pulumi config set metricsPort {flink_metrics.DEFAULT_METRICS_PORT}")
    return MetricsSettings(port or None, pod_monitor)


def load(config: pulumi.Config | None = None, stack: str | None = None) -> Settings:
    """Read and validate the whole stack configuration; raises ConfigError on the first bad key."""
    read = _Reader(config or pulumi.Config(PROJECT))
    stack = stack or pulumi.get_stack()
    target = read.choice("target", ("ack", "kubeconfig"), "ack")
    namespace = read.text("namespace", "flink") or "flink"
    if not _DNS_LABEL.match(namespace):
        raise ConfigError("namespace", f"'{namespace}' is not a Kubernetes name (lowercase letters, digits, '-')",
                          "pulumi config set namespace flink")
    flink, warnings = _flink(read, target)  # type: ignore[arg-type]
    hologres = _hologres(read)
    jobs = _jobs(read, flink.size.default_parallelism)
    state_storage, state_warnings = _state_storage(read, target, flink.version)  # type: ignore[arg-type]
    warnings += state_warnings
    high_availability = read.choice("highAvailability", ("none", "kubernetes"), "none")
    if high_availability == "kubernetes" and state_storage is None:
        raise ConfigError("highAvailability", "kubernetes HA keeps job metadata in durable storage, and "
                          "stateStorage is not set", "pulumi config set stateStorage oss://<bucket>/flink")
    rest_url = read.text("flinkRestUrl")
    if rest_url and not re.match(r"^https?://[^\s/]+", rest_url):
        raise ConfigError("flinkRestUrl", f"'{rest_url}' is not an http(s) URL",
                          "pulumi config set flinkRestUrl http://127.0.0.1:8081")
    if (any(job.jar for job in jobs) and target == "kubeconfig" and not rest_url
            and flink.rest_service_type != "LoadBalancer"):
        # Jobs are submitted from the machine running `pulumi up`, which cannot reach a cluster address.
        raise ConfigError("flinkRestUrl", f"jobs are submitted from this machine, which cannot reach the "
                          f"{flink.rest_service_type} REST Service",
                          f"kubectl -n {namespace} port-forward svc/flink-jobmanager-rest 8081, then "
                          "pulumi config set flinkRestUrl http://127.0.0.1:8081 (or restServiceType LoadBalancer)")
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
