"""Kubernetes manifests of a Flink standalone session cluster, as plain dicts.

Pure rendering: no Pulumi and no I/O. Values that only exist at deploy time (the Secret's generated
name, cloud annotations) are passed in as opaque values and placed where they belong, so the same
functions serve the component and the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components import flink_config, flink_metrics

# The Flink image runs as user/group `flink` (9999); the tutorial pins the same uid.
FLINK_UID = 9999
# Every official image (apache/flink-docker, e.g. 1.20/scala_2.12-java17-ubuntu/Dockerfile at
# 983be3455636eb12cd1d3dee1efc8e32c4b875db) sets FLINK_HOME=/opt/flink and ships bin/jobmanager.sh,
# bin/taskmanager.sh, opt/ and plugins/ there; the pods start through those scripts, not the entrypoint.
FLINK_HOME = "/opt/flink"
# Writable emptyDirs: the complete configuration (FLINK_CONF_DIR) and the plugins Flink loads (FLINK_PLUGINS_DIR).
CONF_DIR = f"{FLINK_HOME}/conf"
PLUGINS_DIR = f"{FLINK_HOME}/pod-plugins"
# Read-only volumes the init container merges from.
CONF_TEMPLATE_DIR = f"{FLINK_HOME}/conf-template"
SECRET_DIR = f"{FLINK_HOME}/secret-options"
# The Secret's file key with the secret Flink options, already in the config file's syntax.
SECRET_OPTIONS_KEY = "flink-secret-options"

# A value known only at deploy time (a pulumi Output), or a plain one.
Deferred = Any


@dataclass(frozen=True)
class ClusterNames:
    """The fixed names of the objects Flink and its clients refer to: the JobManager Service name is Flink's rpc
    address (and in the REST proxy's certificate), the REST Service's is what port-forward and the docs name.
    The ConfigMap and the Secret are auto-named, so a change rolls the pods."""

    jobmanager: str = "flink-jobmanager"
    taskmanager: str = "flink-taskmanager"
    rest_service: str = "flink-jobmanager-rest"


def selector_labels(instance: str, component: str | None) -> dict[str, str]:
    """Labels a Deployment selects on: stable for the life of the Deployment (selectors are immutable).
    No component: every pod of the instance (the PodMonitor's selector)."""
    labels = {"app.kubernetes.io/name": "flink", "app.kubernetes.io/instance": instance}
    return {**labels, "app.kubernetes.io/component": component} if component else labels


def labels(instance: str, component: str, version: flink_config.FlinkVersion) -> dict[str, str]:
    """The recommended app.kubernetes.io labels."""
    return {
        **selector_labels(instance, component),
        "app.kubernetes.io/version": str(version),
        "app.kubernetes.io/part-of": "flink-hologres",
        "app.kubernetes.io/managed-by": "pulumi",
    }


@dataclass(frozen=True, kw_only=True)
class PodSpecInput:
    """What a JobManager or TaskManager pod is made of."""

    instance: str
    component: str  # "jobmanager" | "taskmanager"
    version: flink_config.FlinkVersion
    image: str
    replicas: int
    process_memory: str
    cpu: str
    config_map_name: Deferred
    config_file_name: str
    secret_name: Deferred
    secret_keys: Sequence[str]
    checksum: Deferred
    pod_annotations: Deferred = None
    service_account: Deferred = None
    # The file-system plugin (directory name in plugins/, jar prefix in opt/), e.g. flink-oss-fs-hadoop.
    filesystem_plugin: str | None = None
    # The Secret holds SECRET_OPTIONS_KEY: merged into the config file by the init container.
    secret_options: bool = False
    # Kubernetes HA: the JobManager advertises its pod IP instead of the Service name.
    advertise_pod_ip: bool = False
    # Set: the Prometheus reporter's named port and the prometheus.io scrape annotations (flink_metrics).
    metrics_port: int | None = None


def _ports(spec: PodSpecInput) -> list[dict[str, Any]]:
    if spec.component == "jobmanager":
        ports = [
            {"name": "rpc", "containerPort": flink_config.JOBMANAGER_RPC_PORT},
            {"name": "blob-server", "containerPort": flink_config.BLOB_SERVER_PORT},
            {"name": "webui", "containerPort": flink_config.REST_PORT},
        ]
    else:
        ports = [{"name": "rpc", "containerPort": flink_config.TASKMANAGER_RPC_PORT}]
    if spec.metrics_port:  # metrics hook (issue 13)
        ports.append(flink_metrics.container_port(spec.metrics_port))
    return ports


def _probes(spec: PodSpecInput) -> dict[str, Any]:
    rpc_port = (flink_config.JOBMANAGER_RPC_PORT if spec.component == "jobmanager"
                else flink_config.TASKMANAGER_RPC_PORT)
    probes: dict[str, Any] = {
        # The tutorial's liveness check: the RPC port answers.
        "livenessProbe": {"tcpSocket": {"port": rpc_port}, "initialDelaySeconds": 30, "periodSeconds": 60},
    }
    if spec.component == "jobmanager":
        # Ready means the REST API answers, which is what the job resource waits for.
        probes["readinessProbe"] = {
            "httpGet": {"path": "/overview", "port": flink_config.REST_PORT},
            "initialDelaySeconds": 5, "periodSeconds": 10, "failureThreshold": 3,
        }
    return probes


_CONTAINER_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": FLINK_UID,
    "runAsGroup": FLINK_UID,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}


def init_script(config_file_name: str, *, secret_options: bool, filesystem_plugin: str | None) -> str:
    """The init container's POSIX sh script (only tools every official image has: cat, ln, mkdir).

    It writes the complete configuration into FLINK_CONF_DIR, readable by the Flink user only (the
    secret options are in it), and fills FLINK_PLUGINS_DIR with the image's own plugins plus the
    file-system plugin found in opt/ by pattern, so no jar name carries a patch release.
    """
    sources = f"{CONF_TEMPLATE_DIR}/{config_file_name}"
    if secret_options:
        sources += f" {SECRET_DIR}/{SECRET_OPTIONS_KEY}"
    lines = [
        "set -eu",
        "umask 077",
        # `cat` copies bytes: no shell expansion or trimming ever touches a value.
        f"cat {sources} > {CONF_DIR}/{config_file_name}",
        f"cat {CONF_TEMPLATE_DIR}/{flink_config.LOG4J_CONSOLE_FILE} > {CONF_DIR}/{flink_config.LOG4J_CONSOLE_FILE}",
        # The image's plugins (metrics reporters, …) stay available: link each directory.
        f"for dir in {FLINK_HOME}/plugins/*/; do",
        f"  if [ -d \"$dir\" ]; then ln -sf \"${{dir%/}}\" {PLUGINS_DIR}/; fi",
        "done",
    ]
    if filesystem_plugin:
        target = f"{PLUGINS_DIR}/{filesystem_plugin}"
        lines += [
            f"if [ ! -e {target} ]; then",
            f"  set -- {FLINK_HOME}/opt/{filesystem_plugin}-*.jar",
            f"  [ -f \"$1\" ] || {{ echo \"{filesystem_plugin}-*.jar is not in {FLINK_HOME}/opt of this image\" >&2;"
            " exit 1; }",
            f"  mkdir {target}",
            f"  ln -sf \"$@\" {target}/",
            "fi",
        ]
    return "\n".join(lines) + "\n"


def main_command(spec: PodSpecInput) -> tuple[list[str], list[str]]:
    """command and args of the Flink container: Flink's own start script in the foreground."""
    script = "jobmanager.sh" if spec.component == "jobmanager" else "taskmanager.sh"
    args = ["start-foreground"]
    if spec.advertise_pod_ip and spec.component == "jobmanager":
        # jobmanager.sh takes a host as its second argument and passes it on as --host (HA: the pod IP).
        args.append("$(POD_IP)")
    return [f"{FLINK_HOME}/bin/{script}"], args


def deployment_spec(spec: PodSpecInput) -> dict[str, Any]:
    """spec of a JobManager/TaskManager Deployment."""
    memory = flink_config.container_memory(flink_config.parse_memory(spec.process_memory))
    # Serverless pods are sized from these, so requests equal limits.
    resources = {"requests": {"cpu": spec.cpu, "memory": memory}, "limits": {"cpu": spec.cpu, "memory": memory}}
    env: list[dict[str, Any]] = [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": spec.secret_name, "key": key}}}
        for key in sorted(spec.secret_keys)
    ]
    env += [{"name": "FLINK_CONF_DIR", "value": CONF_DIR}, {"name": "FLINK_PLUGINS_DIR", "value": PLUGINS_DIR}]
    if spec.advertise_pod_ip:
        env.append({"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}})
    command, args = main_command(spec)
    pod_metadata: dict[str, Any] = {
        "labels": labels(spec.instance, spec.component, spec.version),
        # A new checksum rolls the pods: the tutorial's manual redeploy step, done by Kubernetes.
        "annotations": {"checksum/config": spec.checksum},
    }
    if spec.pod_annotations is not None:
        pod_metadata["annotations"] = _merge_annotations(spec.pod_annotations, spec.checksum)
    if spec.metrics_port:  # metrics hook (issue 13): ours win over the cloud's
        pod_metadata["annotations"] = _with_annotations(pod_metadata["annotations"],
                                                        flink_metrics.scrape_annotations(spec.metrics_port))
    work_mounts = [{"name": "flink-config", "mountPath": CONF_DIR},
                   {"name": "flink-plugins", "mountPath": PLUGINS_DIR}]
    init_mounts = [{"name": "flink-config-template", "mountPath": CONF_TEMPLATE_DIR, "readOnly": True},
                   *work_mounts]
    volumes: list[dict[str, Any]] = [
        {"name": "flink-config-template", "configMap": {
            "name": spec.config_map_name,
            "items": [
                {"key": spec.config_file_name, "path": spec.config_file_name},
                {"key": flink_config.LOG4J_CONSOLE_FILE, "path": flink_config.LOG4J_CONSOLE_FILE},
            ],
        }},
        {"name": "flink-config", "emptyDir": {"sizeLimit": "16Mi"}},
        {"name": "flink-plugins", "emptyDir": {"sizeLimit": "16Mi"}},
    ]
    if spec.secret_options:
        # Only the init container sees the secret options, and only as a file: never as env.
        init_mounts.append({"name": "flink-secret-options", "mountPath": SECRET_DIR, "readOnly": True})
        volumes.append({"name": "flink-secret-options", "secret": {
            "secretName": spec.secret_name, "defaultMode": 0o400,
            "items": [{"key": SECRET_OPTIONS_KEY, "path": SECRET_OPTIONS_KEY}],
        }})
    pod_spec: dict[str, Any] = {
        "securityContext": {
            "runAsNonRoot": True, "runAsUser": FLINK_UID, "runAsGroup": FLINK_UID, "fsGroup": FLINK_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "initContainers": [{
            "name": "config",
            "image": spec.image,
            "command": ["sh", "-c", init_script(spec.config_file_name, secret_options=spec.secret_options,
                                                filesystem_plugin=spec.filesystem_plugin)],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                          "limits": {"cpu": "100m", "memory": "64Mi"}},
            "securityContext": _CONTAINER_SECURITY,
            "volumeMounts": init_mounts,
        }],
        "containers": [{
            "name": spec.component,
            "image": spec.image,
            "imagePullPolicy": "IfNotPresent",
            "command": command,
            "args": args,
            "ports": _ports(spec),
            "env": env,
            "resources": resources,
            "securityContext": _CONTAINER_SECURITY,
            "volumeMounts": work_mounts,
            **_probes(spec),
        }],
        "volumes": volumes,
    }
    if spec.service_account:
        pod_spec["serviceAccountName"] = spec.service_account
    else:
        # Flink talks to the Kubernetes API only for HA; without it the pods get no token.
        pod_spec["automountServiceAccountToken"] = False
    deployment: dict[str, Any] = {
        "replicas": spec.replicas,
        "selector": {"matchLabels": selector_labels(spec.instance, spec.component)},
        "template": {"metadata": pod_metadata, "spec": pod_spec},
    }
    if spec.component == "jobmanager":
        # Never two JobManagers at once: a rolling update would put both behind one Service (and, without
        # HA, TaskManagers and jobs on the old one), so the old pod goes before the new one starts.
        deployment["strategy"] = {"type": "Recreate"}
    return deployment


def _merge_annotations(extra: Deferred, checksum: Deferred) -> Deferred:
    """Cloud pod annotations (maybe a pulumi Output) plus our checksum."""
    if isinstance(extra, Mapping):
        return {**extra, "checksum/config": checksum}
    # Both may be deploy-time values: combine them once both are known.
    return type(extra).all(extra, checksum).apply(
        lambda values: {**(values[0] or {}), "checksum/config": values[1]})


def _with_annotations(base: Deferred, extra: Mapping[str, str]) -> Deferred:
    """Annotations (a dict, or a pulumi Output of one) plus plain ones."""
    if isinstance(base, Mapping):
        return {**base, **extra}
    return base.apply(lambda values: {**(values or {}), **extra})


def jobmanager_service_spec(instance: str) -> dict[str, Any]:
    """In-cluster Service whose name is Flink's rpc address: rpc, blob and web UI."""
    return {
        "type": "ClusterIP",
        "selector": selector_labels(instance, "jobmanager"),
        "ports": [
            {"name": "rpc", "port": flink_config.JOBMANAGER_RPC_PORT, "targetPort": "rpc"},
            {"name": "blob-server", "port": flink_config.BLOB_SERVER_PORT, "targetPort": "blob-server"},
            {"name": "webui", "port": flink_config.REST_PORT, "targetPort": "webui"},
        ],
    }


def rest_service_spec(instance: str, service_type: str, node_port: int | None) -> dict[str, Any]:
    """The REST/UI Service: NodePort (the tutorial), ClusterIP, or LoadBalancer bound by annotations."""
    port: dict[str, Any] = {"name": "rest", "port": flink_config.REST_PORT, "targetPort": "webui"}
    if service_type == "NodePort" and node_port is not None:
        port["nodePort"] = node_port
    return {"type": service_type, "selector": selector_labels(instance, "jobmanager"), "ports": [port]}


# Kubernetes HA stores leader election and job metadata in ConfigMaps (a ConfigMap lock, no Leases).
HA_RBAC_RULES = [
    {"apiGroups": [""], "resources": ["configmaps"],
     "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
]
