"""Kubernetes manifests of a Flink standalone session cluster, as plain dicts.

Pure rendering: no Pulumi and no I/O. Values that only exist at deploy time (the Secret's generated
name, cloud annotations) are passed in as opaque values and placed where they belong, so the same
functions serve the component and the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components import flink_config, flink_metrics

# The Flink image runs as user/group `flink` (9999); the tutorial pins the same uid.
FLINK_UID = 9999
CONF_DIR = "/opt/flink/conf"
CONF_TEMPLATE_DIR = "/opt/flink/conf-template"

# A value known only at deploy time (a pulumi Output), or a plain one.
Deferred = Any


@dataclass(frozen=True)
class ClusterNames:
    """The names Kubernetes objects get; the JobManager Service name is Flink's rpc address."""

    prefix: str = "flink"

    @property
    def jobmanager(self) -> str:
        return f"{self.prefix}-jobmanager"

    @property
    def taskmanager(self) -> str:
        return f"{self.prefix}-taskmanager"

    @property
    def rest_service(self) -> str:
        return f"{self.prefix}-jobmanager-rest"

    @property
    def query_state_service(self) -> str:
        return f"{self.prefix}-taskmanager-query-state"

    @property
    def config_map(self) -> str:
        return f"{self.prefix}-config"

    @property
    def secret(self) -> str:
        return f"{self.prefix}-env"


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
    # Not secret, needed by the image itself (e.g. ENABLE_BUILT_IN_PLUGINS).
    plain_env: Mapping[str, str] = field(default_factory=dict)
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
        if flink_config.has_queryable_state(spec.version):
            ports.append({"name": "query-state", "containerPort": flink_config.QUERYABLE_STATE_PROXY_PORT})
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


def deployment_spec(spec: PodSpecInput) -> dict[str, Any]:
    """spec of a JobManager/TaskManager Deployment."""
    memory = flink_config.container_memory(flink_config.parse_memory(spec.process_memory))
    # Serverless pods are sized from these, so requests equal limits.
    resources = {"requests": {"cpu": spec.cpu, "memory": memory}, "limits": {"cpu": spec.cpu, "memory": memory}}
    env: list[dict[str, Any]] = [
        {"name": key, "valueFrom": {"secretKeyRef": {"name": spec.secret_name, "key": key}}}
        for key in sorted(spec.secret_keys)
    ]
    env += [{"name": key, "value": value} for key, value in sorted(spec.plain_env.items())]
    args = [spec.component]
    if spec.advertise_pod_ip:
        env.append({"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}})
        if spec.component == "jobmanager":
            args.append("$(POD_IP)")
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
    pod_spec: dict[str, Any] = {
        "securityContext": {
            "runAsNonRoot": True, "runAsUser": FLINK_UID, "runAsGroup": FLINK_UID, "fsGroup": FLINK_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # The image's entrypoint edits conf/ in place, and ConfigMap volumes are read-only: copy the
        # rendered files into a writable emptyDir first.
        "initContainers": [{
            "name": "config",
            "image": spec.image,
            "command": ["sh", "-c", f"cp -L {CONF_TEMPLATE_DIR}/* {CONF_DIR}/"],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                          "limits": {"cpu": "100m", "memory": "64Mi"}},
            "securityContext": _CONTAINER_SECURITY,
            "volumeMounts": [
                {"name": "flink-config-template", "mountPath": CONF_TEMPLATE_DIR, "readOnly": True},
                {"name": "flink-config", "mountPath": CONF_DIR},
            ],
        }],
        "containers": [{
            "name": spec.component,
            "image": spec.image,
            "imagePullPolicy": "IfNotPresent",
            "args": args,
            "ports": _ports(spec),
            "env": env,
            "resources": resources,
            "securityContext": _CONTAINER_SECURITY,
            "volumeMounts": [{"name": "flink-config", "mountPath": CONF_DIR}],
            **_probes(spec),
        }],
        "volumes": [
            {"name": "flink-config-template", "configMap": {
                "name": spec.config_map_name,
                "items": [
                    {"key": spec.config_file_name, "path": spec.config_file_name},
                    {"key": flink_config.LOG4J_CONSOLE_FILE, "path": flink_config.LOG4J_CONSOLE_FILE},
                ],
            }},
            {"name": "flink-config", "emptyDir": {"sizeLimit": "16Mi"}},
        ],
    }
    if spec.service_account:
        pod_spec["serviceAccountName"] = spec.service_account
    else:
        # Flink talks to the Kubernetes API only for HA; without it the pods get no token.
        pod_spec["automountServiceAccountToken"] = False
    return {
        "replicas": spec.replicas,
        "selector": {"matchLabels": selector_labels(spec.instance, spec.component)},
        "template": {"metadata": pod_metadata, "spec": pod_spec},
    }


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


def query_state_service_spec(instance: str, service_type: str, node_port: int | None) -> dict[str, Any]:
    port: dict[str, Any] = {"name": "query-state", "port": flink_config.QUERYABLE_STATE_PROXY_PORT,
                            "targetPort": "query-state"}
    if service_type == "NodePort" and node_port is not None:
        port["nodePort"] = node_port
    return {"type": service_type, "selector": selector_labels(instance, "taskmanager"), "ports": [port]}


# Kubernetes HA stores leader election and job metadata in ConfigMaps (a ConfigMap lock, no Leases).
HA_RBAC_RULES = [
    {"apiGroups": [""], "resources": ["configmaps"],
     "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
]


def flink_properties(options: Mapping[str, str]) -> str:
    """The FLINK_PROPERTIES text the official image's entrypoint appends to the config file."""
    return "".join(f"{key}: {value}\n" for key, value in sorted(options.items()))
