"""flink-hologres: Apache Flink on Kubernetes writing into Alibaba Cloud Hologres.

    settings ──► Kubernetes: an ACK Serverless/ACS cluster + SLB (target ack), or a kubeconfig
             ──► Flink session cluster: ConfigMap, Secret, Deployments, Services
             ──► Hologres table ──► Flink job(s)
"""

import pulumi
import pulumi_kubernetes as k8s

from components import flink_config
from components import settings as stack_settings
from components.alicloud_cluster import AlicloudServerlessCluster, ServerlessClusterArgs, mirror_image
from components.flink_session_cluster import FlinkSessionCluster, FlinkSessionClusterArgs

settings = stack_settings.load()
for warning in settings.warnings:
    pulumi.log.warn(warning)
flink_settings, hologres = settings.flink, settings.hologres

# 1. Where Kubernetes runs: a cluster this program creates, or one a kubeconfig points at.
if settings.alicloud is not None:
    cloud = AlicloudServerlessCluster("ack", args=ServerlessClusterArgs.from_settings(
        settings.alicloud, project=settings.project, stack=settings.stack))
    k8s_provider = cloud.k8s_provider
    image = mirror_image(flink_settings.image, cloud.image_registry_mirror)
    rest_service = {"rest_service_type": "LoadBalancer", "rest_service_annotations": cloud.rest_service_annotations,
                    "pod_annotations": cloud.pod_annotations, "rest_node_port": None, "query_state_node_port": None}
    derived_rest_url: pulumi.Input[str] | None = cloud.flink_rest_url
    pulumi.export("clusterId", cloud.cluster_id)
    pulumi.export("kubeconfig", cloud.kubeconfig)  # a secret Output
    pulumi.export("slbAddress", cloud.slb_address)
else:
    k8s_provider = k8s.Provider("kubernetes", kubeconfig=settings.kubeconfig)
    image = flink_settings.image
    rest_service = {"rest_service_type": flink_settings.rest_service_type}
    derived_rest_url = None

# 2. Durable state for checkpoints, savepoints and HA metadata.
state_location: pulumi.Input[str] | None = None
state_scheme: str | None = None
if settings.state_storage and settings.state_storage != "oss":
    state_location = settings.state_storage
    state_scheme = flink_config.StateLocation(settings.state_storage).scheme

# 3. The Flink session cluster; the Hologres connection reaches jobs as the tutorial's env vars.
flink = FlinkSessionCluster(
    "flink",
    FlinkSessionClusterArgs(
        namespace=settings.namespace,
        image=image,
        version=flink_settings.version,
        java_version=flink_settings.java_version,
        task_managers=flink_settings.task_managers,
        task_slots=flink_settings.task_slots,
        default_parallelism=flink_settings.default_parallelism,
        jobmanager_memory=flink_settings.jobmanager_memory,
        taskmanager_memory=flink_settings.taskmanager_memory,
        jobmanager_cpu=flink_settings.jobmanager_cpu,
        taskmanager_cpu=flink_settings.taskmanager_cpu,
        flink_config=flink_settings.extra_config,
        secret_env={
            "HOLO_ENDPOINT": f"{hologres.host}:{hologres.port}",
            "HOLO_TEST_DB": hologres.database,
            "HOLO_TABLE_NAME": hologres.table,
            "HOLO_ACCESS_ID": hologres.user,
            "HOLO_ACCESS_KEY": hologres.password,
        },
        state_location=state_location,
        state_scheme=state_scheme,
        high_availability=settings.high_availability == "kubernetes",
        **rest_service,
    ),
    opts=pulumi.ResourceOptions(provider=k8s_provider),
)

flink_rest_url = settings.flink_rest_url or derived_rest_url
pulumi.export("namespace", flink.namespace)
pulumi.export("flinkRestUrl", flink_rest_url)
pulumi.export("flinkUiUrl", flink_rest_url)
pulumi.export("hologresTable", hologres.table)
