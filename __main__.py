"""flink-hologres: Apache Flink on Kubernetes writing into Alibaba Cloud Hologres.

    settings ──► Kubernetes (ACK cluster + SLB, or an existing kubeconfig)
             ──► Flink session cluster (ConfigMap, Secret, Deployments, Services)
             ──► Hologres table ──► Flink job(s)
"""

import pulumi
import pulumi_kubernetes as k8s

from components import settings as stack_settings
from components.flink_session_cluster import FlinkSessionCluster, FlinkSessionClusterArgs

settings = stack_settings.load()
for warning in settings.warnings:
    pulumi.log.warn(warning)

# 1. Where Kubernetes runs.
k8s_provider = k8s.Provider("kubernetes", kubeconfig=settings.kubeconfig)
rest_service_annotations = None
pod_annotations = None

# 2. The Flink session cluster; the Hologres connection reaches the job as the tutorial's env vars.
hologres = settings.hologres
flink = FlinkSessionCluster(
    "flink",
    FlinkSessionClusterArgs(
        namespace=settings.namespace,
        image=settings.flink.image,
        version=settings.flink.version,
        java_version=settings.flink.java_version,
        task_managers=settings.flink.task_managers,
        task_slots=settings.flink.task_slots,
        default_parallelism=settings.flink.default_parallelism,
        jobmanager_memory=settings.flink.jobmanager_memory,
        taskmanager_memory=settings.flink.taskmanager_memory,
        jobmanager_cpu=settings.flink.jobmanager_cpu,
        taskmanager_cpu=settings.flink.taskmanager_cpu,
        flink_config=settings.flink.extra_config,
        secret_env={
            "HOLO_ENDPOINT": f"{hologres.host}:{hologres.port}",
            "HOLO_TEST_DB": hologres.database,
            "HOLO_TABLE_NAME": hologres.table,
            "HOLO_ACCESS_ID": hologres.user,
            "HOLO_ACCESS_KEY": hologres.password,
        },
        rest_service_type=settings.flink.rest_service_type,
        rest_service_annotations=rest_service_annotations,
        pod_annotations=pod_annotations,
    ),
    opts=pulumi.ResourceOptions(provider=k8s_provider),
)

pulumi.export("namespace", flink.namespace)
pulumi.export("flinkInClusterRestUrl", flink.rest_url)
pulumi.export("hologresTable", hologres.table)
