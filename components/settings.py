"""Typed, validated settings from the stack configuration.

Everything the program needs is read and checked before any resource is declared: here (Flink, metrics,
security, the top-level keys), in settings_hologres, settings_jobs (the jobs) and settings_cloud (target
ack: the cluster's and the state storage's arguments, checked by those components' own rules). A bad value stops
the program with one line that names the config key and the fix (`ConfigError` is a `pulumi.RunError`,
which the CLI prints without a stack trace); every fix is a command that runs as printed
(`components.config_commands`). Keys this project does not declare are typos, and stop it too.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import pulumi

from components import flink_config, flink_job_spec, flink_metrics, flink_rest_proxy, hologres_writer
from components.alicloud_cluster import ClusterProfile, ServerlessClusterArgs, UiAccess  # noqa: F401 - re-exported
from components.config_commands import config_rm, config_set, path
from components.config_reader import PROJECT, ConfigError, _check_known_keys, _config_keys, _Reader, _validated
from components.flink_session_cluster import ServiceType
from components.settings_cloud import (
    AlicloudSettings,
    StateDecision,
    cluster_args,
    read_alicloud,
    read_state_storage,
    state_decision,
)
from components.settings_hologres import HologresSettings, read_hologres
from components.settings_jobs import JobDeadlines, JobSettings, _check_slots, _job_deadlines, _jobs

# Pinned to a patch release: reproducible pods, and the file-system plugin jar names carry the patch.
DEFAULT_IMAGE = "flink:1.20.3-java17"
# The tutorial's NodePort for flink-jobmanager-rest (restServiceType NodePort).
REST_NODE_PORT = 30081

Target = Literal["ack", "kubeconfig"]
HighAvailability = Literal["none", "kubernetes"]

# --- the pieces ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlinkSettings:
    image: str
    version: flink_config.FlinkVersion
    java_version: int
    size: flink_config.ClusterSize
    extra_config: Mapping[str, Any]
    rest_service_type: ServiceType
    rest_node_port: int | None = None  # REST_NODE_PORT for a NodePort Service


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
    # The decisions the components take, made here once: the cluster's arguments (target ack; not yet
    # placed in a zone, see settings_cloud.placed) and where durable state lives.
    cluster: ServerlessClusterArgs | None = None
    state: StateDecision = None

    @property
    def submits_jobs(self) -> bool:
        return any(job.jar for job in self.jobs)

    @property
    def reaches_cloud_rest_url(self) -> bool:
        """Whether `up` can ask Flink through the cloud's SLB: a public one, or the intranet one that jobs are
        submitted through anyway (the settings warn that it needs a machine inside the VPC)."""
        return self.alicloud is not None and (self.alicloud.ui_access == "internet" or self.submits_jobs)


# Kubernetes DNS-1123 label (namespace and Service names).
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_CPU = re.compile(r"^(\d+(\.\d{1,3})?|\d+m)$")


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
    service_type = read.choice("restServiceType", get_args(ServiceType), default_type)
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
        rest_node_port=REST_NODE_PORT if service_type == "NodePort" else None,
    ), warnings


# Options the program owns; setting them through flinkConfig would silently fight other keys.
_RESERVED_FLINK_KEYS = {
    "taskmanager.numberOfTaskSlots": "taskSlots",
    "parallelism.default": "defaultParallelism",
    "jobmanager.memory.process.size": "jobManagerMemory",
    "taskmanager.memory.process.size": "taskManagerMemory",
    "jobmanager.rpc.address": "namespace (the JobManager Service name is fixed)",
}


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
    if problem := hologres_writer.login_problem(login):  # the writer's own rule
        raise ConfigError("hologresWriterLogin", problem, config_set("hologresWriterLogin", "flink_writer"))
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
    hologres = read_hologres(read)
    jobs = _jobs(read, flink.size.default_parallelism, warnings)
    _check_slots(jobs, flink.size, single=not read.structured("jobs", list, [], "[0]' orders"))
    state_storage, state_warnings = read_state_storage(read, target)
    warnings += state_warnings
    high_availability = read.choice("highAvailability", ("none", "kubernetes"), "none")
    if high_availability == "kubernetes" and state_storage is None:
        raise ConfigError("highAvailability", "kubernetes HA keeps job metadata in durable storage, and "
                          "stateStorage is not set", config_set("stateStorage", note="e.g. oss://<bucket>/flink"))
    security = _security(read, stack)
    # What a port-forward to the REST Service answers: the proxy speaks TLS only.
    forwarded_url = f"{'https' if security.rest_auth else 'http'}://127.0.0.1:8081"
    rest_url = read.text("flinkRestUrl")
    if rest_url and not flink_job_spec.REST_URL.match(rest_url):
        raise ConfigError("flinkRestUrl", f"'{rest_url}' is not an http(s) URL",
                          config_set("flinkRestUrl", forwarded_url))
    if (any(job.jar for job in jobs) and target == "kubeconfig" and not rest_url
            and flink.rest_service_type != "LoadBalancer"):
        # Jobs are submitted from the machine running `pulumi up`, which cannot reach a cluster address.
        raise ConfigError("flinkRestUrl", f"jobs are submitted from this machine, which cannot reach the "
                          f"{flink.rest_service_type} REST Service",
                          config_set("flinkRestUrl", forwarded_url,
                                     note=f"with kubectl -n {namespace} port-forward svc/flink-jobmanager-rest "
                                     "8081 running; or set restServiceType LoadBalancer"))
    alicloud = read_alicloud(read, stack) if target == "ack" else None
    if alicloud is not None and alicloud.ui_access == "internet" and not security.rest_auth:
        warnings.append("config 'restAuth': false puts Flink's REST API, which runs any uploaded jar, on the "
                        "internet SLB with only uiAllowedCidrs in front of it; `pulumi config set restAuth true` "
                        "puts TLS and a password in front of it")
    cluster = cluster_args(alicloud, project=PROJECT, stack=stack) if alicloud else None
    if any(job.jar for job in jobs) and alicloud and alicloud.ui_access == "intranet" and not rest_url:
        warnings.append("jobs are submitted through the intranet SLB, which only machines inside the VPC (or on "
                        "a VPN into it) reach; elsewhere set flinkRestUrl, e.g. through kubectl port-forward")
    settings = Settings(
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
        security=security,
        cluster=cluster,
    )
    return dataclasses.replace(settings, state=state_decision(settings))
