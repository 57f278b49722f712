"""FlinkSessionCluster: a Flink standalone session cluster on any Kubernetes, as one component.

It knows no cloud: the caller hands it a Kubernetes provider (through `opts`), the REST Service's
type and annotations, and pod annotations. Rendering lives in flink_config / flink_manifests; this
module only declares the resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi
import pulumi_kubernetes as k8s

from components import flink_config, flink_manifests, flink_metrics, flink_rest_auth, flink_rest_proxy
from components.flink_cluster_gate import DEFAULT_DEADLINE_S, ClusterReady, ClusterReadyArgs
from components.flink_state import DurableState

ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer"]


@dataclass(frozen=True, kw_only=True)
class RestService:
    """How the REST/UI Service is exposed: its type, the annotations that bind a LoadBalancer to a load
    balancer made elsewhere (an SLB), and the NodePort of a NodePort Service (None: Kubernetes picks one)."""

    type: ServiceType = "ClusterIP"
    annotations: pulumi.Input[Mapping[str, str]] | None = None
    node_port: int | None = None


@dataclass(frozen=True, kw_only=True)
class FlinkSessionClusterArgs:
    namespace: str
    image: str
    version: flink_config.FlinkVersion
    java_version: int
    size: flink_config.ClusterSize = field(default_factory=flink_config.ClusterSize)
    flink_config: pulumi.Input[Mapping[str, Any]] = field(default_factory=dict)
    # Env var name → value. Every value goes into the Secret; pods read them via secretKeyRef.
    secret_env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    rest_service: RestService = field(default_factory=RestService)
    pod_annotations: pulumi.Input[Mapping[str, str]] | None = None
    create_namespace: bool = True
    # Runs the pods as this ServiceAccount (HA creates its own); none: no API token is mounted.
    service_account: str | None = None
    # Durable storage for checkpoints, savepoints and HA metadata: its location, scheme and the options
    # it implies, decided once (the settings, or the state storage component); None: none.
    state: DurableState | None = None
    high_availability: bool = False
    ha_cluster_id: str = "flink-hologres"
    # A REST URL the deploying machine reaches: `up` then waits until every TaskManager registered
    # (ClusterReady) and fails in one line otherwise. `ready_via_load_balancer`: the REST Service's own
    # LoadBalancer address. Neither: no gate (nothing outside the cluster can ask Flink).
    ready_rest_url: pulumi.Input[str] | None = None
    ready_via_load_balancer: bool = False
    ready_deadline_seconds: float = DEFAULT_DEADLINE_S
    # Prometheus reporter port in every pod (None: off); a PodMonitor for the Prometheus Operator when asked.
    metrics_port: int | None = flink_metrics.DEFAULT_METRICS_PORT
    pod_monitor: bool = False
    # Issue 12: the authenticating REST proxy (nginx, TLS, basic auth) in the JobManager pod; None: none.
    rest_auth: flink_rest_auth.RestAuthOptions | None = None
    # How long pulumi-kubernetes waits for the Deployments (all replicas available) and Services
    # (a LoadBalancer's ingress), instead of its 10-minute default (provider/pkg/await deployment.go,
    # service.go, commit 94977969d641): serverless pods pull the Flink image (several hundred MB) from Docker Hub
    # through NAT, without a node image cache, before the JVM starts.
    wait_timeouts: pulumi.CustomTimeouts = field(
        default_factory=lambda: pulumi.CustomTimeouts(create="20m", update="20m", delete="15m"))


class FlinkSessionCluster(pulumi.ComponentResource):
    """ConfigMap, Secret, JobManager and TaskManager Deployments and their Services."""

    namespace: pulumi.Output[str]
    jobmanager_service: pulumi.Output[str]
    rest_service: pulumi.Output[str]
    rest_url: pulumi.Output[str]
    total_slots: pulumi.Output[int]
    config_files: pulumi.Output[Mapping[str, str]]
    config_checksum: pulumi.Output[str]
    savepoint_dir: pulumi.Output[str | None]
    # Where a LoadBalancer REST Service is reachable from outside the cluster (None for other types).
    external_rest_url: pulumi.Output[str | None]

    def __init__(self, name: str, args: FlinkSessionClusterArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("flink-hologres:flink:SessionCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        names = flink_manifests.ClusterNames()
        version, size = args.version, args.size
        state = args.state
        plugin = state.filesystem_plugin if state else None
        # The state's secret options (file-system credentials): a file in the Secret that the init container
        # appends to the configuration (mode 0600), never env and never the ConfigMap.
        secret_options = state.secret_options if state else None

        def render(values: dict[str, Any]) -> dict[str, str]:
            location = values["state_location"]
            return flink_config.render_config_files(flink_config.SessionClusterConfig(
                version=version,
                java_version=args.java_version,
                jobmanager_address=names.jobmanager,
                task_slots=size.task_slots,
                jobmanager_process_memory=size.jobmanager_memory,
                taskmanager_process_memory=size.taskmanager_memory,
                default_parallelism=size.default_parallelism,
                extra={**(values["implied"] or {}), **(values["extra"] or {}),
                       **(flink_rest_proxy.flink_options() if args.rest_auth else {})},
                state=flink_config.StateLocation(location) if location else None,
                high_availability_cluster_id=args.ha_cluster_id if args.high_availability else None,
                metrics_port=args.metrics_port,
                namespace=args.namespace,
            ))

        # The state location and some options may only be known at deploy time (a bucket's name).
        config_files = pulumi.Output.all(
            state_location=pulumi.Output.from_input(state.location if state else None),
            implied=pulumi.Output.from_input(state.options if state else {}),
            extra=pulumi.Output.from_input(args.flink_config),
        ).apply(render)
        config_file_name = flink_config.config_file_name(version)
        secret_values: dict[str, pulumi.Input[str]] = dict(args.secret_env)
        env_keys = sorted(secret_values)  # the Secret's keys the pods read as env vars
        if secret_options is not None:
            secret_values[flink_manifests.SECRET_OPTIONS_KEY] = pulumi.Output.from_input(
                secret_options).apply(lambda options: flink_config.render_secret_options(version, options))
        checksum = config_files.apply(lambda files: flink_config.config_checksum(files, sorted(secret_values)))

        def metadata(object_name: str | None, component: str, **extra: Any) -> dict[str, Any]:
            meta: dict[str, Any] = {"namespace": namespace_name,
                                    "labels": flink_manifests.labels(name, component, version), **extra}
            if object_name:
                meta["name"] = object_name
            return meta

        if args.create_namespace:
            namespace = k8s.core.v1.Namespace(
                f"{name}-namespace",
                metadata={"name": args.namespace,
                          "labels": flink_manifests.labels(name, "namespace", version)},
                opts=child,
            )
            namespace_name: pulumi.Input[str] = namespace.metadata.apply(lambda m: m.name)
        else:
            namespace_name = args.namespace

        # Auto-named (a suffix is added), so a changed file or secret value makes a new object and the
        # Deployments referencing it roll; the old one is deleted after.
        rest_auth = (flink_rest_auth.for_session_cluster(  # issue 12
            f"{name}-rest-auth", args.rest_auth, namespace=args.namespace, namespace_name=namespace_name,
            services=[names.rest_service, names.jobmanager], labels=flink_manifests.labels(name, "rest-auth", version),
            opts=child) if args.rest_auth else None)
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=metadata(None, "config"),
            data=config_files,
            opts=child,
        )
        secret = k8s.core.v1.Secret(
            f"{name}-env",
            metadata=metadata(None, "env"),
            type="Opaque",
            string_data={key: pulumi.Output.secret(value) for key, value in secret_values.items()},
            opts=child,
        )
        config_map_name = config_map.metadata.apply(lambda m: m.name)
        secret_name = secret.metadata.apply(lambda m: m.name)

        service_account: pulumi.Input[str] | None = args.service_account
        pod_dependencies: list[pulumi.Resource] = []
        if args.high_availability:
            if state is None:
                raise ValueError("high availability needs a state location for its metadata")
            pod_dependencies = self._ha_identity(name, metadata)
            service_account = pod_dependencies[0].metadata.apply(lambda m: m.name)  # type: ignore[attr-defined]

        def deployment(component: str, replicas: int, memory: str, cpu: str,
                       deployment_name: str) -> k8s.apps.v1.Deployment:
            spec = flink_manifests.deployment_spec(flink_manifests.PodSpecInput(
                instance=name, component=component, version=version, image=args.image, replicas=replicas,
                process_memory=memory, cpu=cpu, config_map_name=config_map_name,
                config_file_name=config_file_name, secret_name=secret_name, secret_keys=env_keys,
                checksum=checksum, pod_annotations=args.pod_annotations,
                service_account=service_account, filesystem_plugin=plugin,
                secret_options=secret_options is not None,
                advertise_pod_ip=args.high_availability, metrics_port=args.metrics_port,
            ))
            if rest_auth is not None and component == "jobmanager":  # issue 12
                spec = flink_rest_proxy.patch_jobmanager(spec, rest_auth.proxy)
            # The JobManager must find its RBAC in place, or HA leader election fails at start.
            return k8s.apps.v1.Deployment(f"{name}-{component}", metadata=metadata(deployment_name, component),
                                          spec=spec, opts=pulumi.ResourceOptions(
                                              parent=self, depends_on=pod_dependencies,
                                              custom_timeouts=args.wait_timeouts))

        jobmanager = deployment("jobmanager", 1, size.jobmanager_memory, size.jobmanager_cpu, names.jobmanager)
        taskmanager = deployment("taskmanager", size.task_managers, size.taskmanager_memory, size.taskmanager_cpu,
                                 names.taskmanager)

        jobmanager_service = k8s.core.v1.Service(
            f"{name}-jobmanager-service",
            metadata=metadata(names.jobmanager, "jobmanager"),
            spec=flink_manifests.jobmanager_service_spec(name),
            opts=pulumi.ResourceOptions(parent=self, custom_timeouts=args.wait_timeouts),
        )
        exposure = args.rest_service
        rest_annotations = {"annotations": exposure.annotations} if exposure.annotations else {}
        rest_service = k8s.core.v1.Service(
            f"{name}-rest-service",
            metadata=metadata(names.rest_service, "jobmanager", **rest_annotations),
            spec=flink_manifests.rest_service_spec(name, exposure.type, exposure.node_port),
            # pulumi-kubernetes waits for a LoadBalancer's ingress on create only (no update awaiter for
            # Services, provider/pkg/await/awaiters.go): a new SLB binding (annotations) or type is a
            # replacement, so the wait sees the new address; its name is fixed, so delete first.
            opts=pulumi.ResourceOptions(parent=self, custom_timeouts=args.wait_timeouts,
                                        replace_on_changes=["metadata.annotations", "spec.type"],
                                        delete_before_replace=True),
        )
        if args.pod_monitor and args.metrics_port:  # metrics hook (issue 13): only when asked, the CRD may be absent
            monitor = flink_metrics.pod_monitor(name=f"{name}-flink", namespace=namespace_name,
                                                labels=flink_manifests.labels(name, "metrics", version),
                                                selector=flink_manifests.selector_labels(name, None))
            k8s.apiextensions.CustomResource(f"{name}-pod-monitor", api_version=monitor["apiVersion"],
                                             kind=monitor["kind"], metadata=monitor["metadata"],
                                             spec=monitor["spec"], opts=child)

        self.namespace = pulumi.Output.from_input(namespace_name)
        self.jobmanager_service = jobmanager_service.metadata.apply(lambda m: m.name)
        self.rest_service = rest_service.metadata.apply(lambda m: m.name)
        scheme = "https" if rest_auth is not None else "http"  # issue 12
        self.rest_url = pulumi.Output.all(self.jobmanager_service, self.namespace).apply(
            lambda parts: f"{scheme}://{parts[0]}.{parts[1]}.svc:{flink_config.REST_PORT}")
        self.rest_auth = rest_auth
        self.total_slots = pulumi.Output.from_input(size.total_slots)
        self.config_files = config_files
        self.config_checksum = checksum
        # Changes whenever the JobManager is replaced: its configuration, its Secret (a new name for new
        # values), its namespace. Jobs take it as an input, so a roll reaches them in the same `up`.
        self.revision = pulumi.Output.all(checksum, secret_name, self.namespace).apply(
            lambda parts: ":".join(str(part) for part in parts))
        self.external_rest_url = (self.client_url(rest_service.status.apply(_load_balancer_url))
                                  if exposure.type == "LoadBalancer" else pulumi.Output.from_input(None))
        self.savepoint_dir = pulumi.Output.from_input(state.location if state else None).apply(
            lambda location: flink_config.StateLocation(location).savepoints if location else None)
        self.jobmanager = jobmanager
        ready_url = self.client_url(args.ready_rest_url) if args.ready_rest_url is not None else None
        if ready_url is None and args.ready_via_load_balancer and exposure.type == "LoadBalancer":
            ready_url = self.external_rest_url
        self.ready: ClusterReady | None = None
        if ready_url is not None:
            self.ready = ClusterReady(f"{name}-ready", ClusterReadyArgs(
                rest_url=ready_url, namespace=self.namespace,
                jobmanager_deployment=names.jobmanager, taskmanager_deployment=names.taskmanager,
                expected_taskmanagers=size.task_managers, expected_slots=size.total_slots,
                config_checksum=checksum, cluster_revision=self.revision,
                deadline_seconds=args.ready_deadline_seconds,
                rest_ca_pem=rest_auth.ca_pem if rest_auth else None, rest_user=rest_auth.user if rest_auth else None,
                rest_password=rest_auth.password if rest_auth else None,
            ), opts=pulumi.ResourceOptions(parent=self, depends_on=[jobmanager, taskmanager, jobmanager_service,
                                                                    rest_service]))
        self.register_outputs({
            "namespace": self.namespace,
            "jobmanagerService": self.jobmanager_service,
            "restService": self.rest_service,
            "restUrl": self.rest_url,
            "totalSlots": self.total_slots,
            "configChecksum": self.config_checksum,
            "savepointDir": self.savepoint_dir,
        })

    def client_url(self, url: pulumi.Input[str | None]) -> pulumi.Output[str | None]:
        """A URL that reaches this cluster's REST API (an SLB, a port-forward, the Service), as a client must
        use it: https:// through the authenticating proxy when the cluster has one."""
        return pulumi.Output.from_input(url).apply(flink_rest_auth.https_url if self.rest_auth else lambda u: u)

    def _ha_identity(self, name: str, metadata: Any) -> list[pulumi.Resource]:
        """ServiceAccount + Role + RoleBinding for Kubernetes HA: ConfigMaps in this namespace only."""
        child = pulumi.ResourceOptions(parent=self)
        account_name = f"{name}-flink"
        account = k8s.core.v1.ServiceAccount(f"{name}-service-account", metadata=metadata(account_name, "rbac"),
                                             opts=child)
        role = k8s.rbac.v1.Role(f"{name}-ha-role", metadata=metadata(f"{name}-flink-ha", "rbac"),
                                rules=flink_manifests.HA_RBAC_RULES, opts=child)
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-ha-role-binding",
            metadata=metadata(f"{name}-flink-ha", "rbac"),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                      "name": role.metadata.apply(lambda m: m.name)},
            subjects=[{"kind": "ServiceAccount", "name": account_name,
                       "namespace": metadata(None, "rbac")["namespace"]}],
            opts=child,
        )
        return [account, role, binding]


def _load_balancer_url(status: Any) -> str | None:
    """http://<ingress address>:8081 once the load balancer has an address."""
    ingress = (getattr(getattr(status, "load_balancer", None), "ingress", None) or [None])[0]
    address = ingress and (ingress.ip or ingress.hostname)
    return f"http://{address}:{flink_config.REST_PORT}" if address else None
