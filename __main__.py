"""flink-hologres: Apache Flink on Kubernetes writing into Alibaba Cloud Hologres.

    settings ──► Kubernetes: an ACK Serverless/ACS cluster + SLB (target ack), or a kubeconfig
             ──► durable state ──► Hologres table + the job's login
             ──► Flink session cluster: ConfigMap, Secret, Deployments, Services ──► Flink job(s) ──► exports

Composition only: every value is decided in components.settings* (checked before the first resource is
declared, so a bad one stops the program with nothing half-created) or by the component that makes it.
"""

import pulumi
import pulumi_kubernetes as k8s

from components import settings as stack_settings
from components import settings_cloud
from components.alicloud_cluster import AlicloudServerlessCluster, mirror_image
from components.alicloud_state import AlicloudStateStorage, StateStorageArgs
from components.flink_job import FlinkJob
from components.flink_job_health import HEALTH_KEYS
from components.flink_rest_auth import RestAuthOptions
from components.flink_rest_proxy import NGINX_IMAGE
from components.flink_session_cluster import FlinkSessionCluster, FlinkSessionClusterArgs, RestService
from components.hologres_ddl import DEFAULT_ORDER_DETAILS
from components.hologres_table import HologresTable, HologresTableArgs
from components.hologres_writer import declare_writer
from components.settings_jobs import job_args

settings = stack_settings.load()
for warning in settings.warnings + settings.hologres.warnings:
    pulumi.log.warn(warning)
flink_settings, hologres, security = settings.flink, settings.hologres, settings.security

# 1. Where Kubernetes runs: a cluster this program creates (its zone asked of the cloud first), or a kubeconfig.
if settings.cluster is not None:
    cloud = AlicloudServerlessCluster("ack", args=settings_cloud.placed(settings.cluster))
    k8s_provider, mirror, cloud_rest_url = cloud.k8s_provider, cloud.image_registry_mirror, cloud.flink_rest_url
    rest_service = RestService(type="LoadBalancer", annotations=cloud.rest_service_annotations)
    pod_annotations, proxy_addresses = cloud.pod_annotations, [cloud.slb_address]
    pulumi.export("clusterId", cloud.cluster_id)
    pulumi.export("vpcId", cloud.vpc_id)  # what a Hologres VPC endpoint is bound to (hologresNetworkPath vpc-endpoint)
    pulumi.export("kubeconfig", cloud.kubeconfig)  # a secret Output
    pulumi.export("slbAddress", cloud.slb_address)
    pulumi.export("zoneId", cloud.zone_id)
    pulumi.export("egressIp", cloud.egress_ip)  # what a Hologres public endpoint's allowlist needs
else:
    k8s_provider, mirror, cloud_rest_url = k8s.Provider("kubernetes", kubeconfig=settings.kubeconfig), None, None
    rest_service = RestService(type=flink_settings.rest_service_type, node_port=flink_settings.rest_node_port)
    pod_annotations, proxy_addresses = None, []

# 2. Durable state for checkpoints, savepoints and HA metadata: on ack a bucket with its own least-privilege
#    RAM user; elsewhere the URI the user gives (settings.state decided which).
state = settings.state
if isinstance(state, StateStorageArgs):
    storage = AlicloudStateStorage("state", args=state)
    state = storage.durable_state
    pulumi.export("stateUri", storage.base_uri)

# 3. The sink table, with the tutorial job's schema, and the job's own login scoped to it (never the admin key).
table = HologresTable("order-details", HologresTableArgs(
    host=hologres.admin_host, port=hologres.admin_port, database=hologres.database,
    table=DEFAULT_ORDER_DETAILS.with_name(hologres.table), drop_table_on_destroy=hologres.drop_table_on_destroy,
    sslmode=hologres.sslmode, ssl_root_cert=hologres.ssl_root_cert))
writer = declare_writer("hologres-writer", host=hologres.admin_host, port=hologres.admin_port,
                        database=hologres.database, schema_name=table.schema_name, table_name=table.table_name,
                        table_identity=table.identity,  # a rebuilt table lost its grants: the writer grants again
                        login=security.writer_login, rotation=security.credentials_rotation,
                        sslmode=hologres.sslmode, ssl_root_cert=hologres.ssl_root_cert)

# 4. The Flink session cluster; the Hologres connection reaches jobs as the tutorial's env vars. `up` waits
#    until every TaskManager registered, through a REST URL this machine reaches.
flink = FlinkSessionCluster("flink", FlinkSessionClusterArgs(
    namespace=settings.namespace, image=mirror_image(flink_settings.image, mirror), version=flink_settings.version,
    java_version=flink_settings.java_version, size=flink_settings.size, flink_config=flink_settings.extra_config,
    secret_env={"HOLO_ENDPOINT": f"{hologres.host}:{hologres.port}", "HOLO_TEST_DB": hologres.database,
                "HOLO_TABLE_NAME": hologres.table,  # the same validated value the table was created from
                "HOLO_ACCESS_ID": writer.login_name, "HOLO_ACCESS_KEY": writer.password},
    state=state, high_availability=settings.high_availability == "kubernetes",
    rest_service=rest_service, pod_annotations=pod_annotations,
    ready_rest_url=settings.flink_rest_url or (cloud_rest_url if settings.reaches_cloud_rest_url else None),
    ready_via_load_balancer=settings.cluster is None, ready_deadline_seconds=settings.job_deadlines.rest_seconds,
    metrics_port=settings.metrics.port, pod_monitor=settings.metrics.pod_monitor,
    # Issue 12: nginx with TLS + basic auth in front of Flink's REST API (the SLB's address in the certificate).
    rest_auth=RestAuthOptions(rotation=security.credentials_rotation, ip_addresses=proxy_addresses,
                              image=mirror_image(NGINX_IMAGE, mirror)) if security.rest_auth else None,
), opts=pulumi.ResourceOptions(provider=k8s_provider))
rest_auth = flink.rest_auth  # None without restAuth
flink_rest_url = flink.client_url(settings.flink_rest_url or cloud_rest_url or flink.external_rest_url)

# 5. The job(s), each its own resource: adding or removing one leaves the others running. They depend on the
#    cluster and the table, so destroy stops them first; the table's identity makes a rebuild restart them.
jobs = {job.name: FlinkJob(f"job-{job.name}", job_args(job, cluster=flink, rest_url=flink_rest_url,
                                                       sink_identity=table.identity, deadlines=settings.job_deadlines,
                                                       project=settings.project, stack=settings.stack),
                           opts=pulumi.ResourceOptions(depends_on=[flink, table]))
        for job in settings.jobs if job.jar}

pulumi.export("namespace", flink.namespace)
pulumi.export("flinkRestUrl", flink_rest_url)
pulumi.export("flinkUiUrl", flink_rest_url)
pulumi.export("hologresTable", hologres.table)
pulumi.export("hologresEndpoint", f"{hologres.host}:{hologres.port}")  # what the pods connect to
pulumi.export("hologresNetworkPath", hologres.network_path or "not known (target kubeconfig)")
pulumi.export("hologresTls", table.tls)  # what protected the AccessKey and the DDL from this machine
pulumi.export("hologresWriterLogin", writer.login_name)
if rest_auth is not None:  # what a person needs to open the UI (README, Security)
    pulumi.export("flinkRestCaPem", rest_auth.ca_pem)
    pulumi.export("flinkUiUser", rest_auth.user)
    pulumi.export("flinkUiPassword", rest_auth.password)  # a secret: `pulumi stack output --show-secrets`
if "main" in jobs:
    pulumi.export("jobId", jobs["main"].job_id)
pulumi.export("jobIds", {name: job.job_id for name, job in jobs.items()})
# What an operator checks first, refreshed by `pulumi refresh`: `pulumi stack output jobHealth`.
pulumi.export("jobHealth", {name: {key: getattr(job, key) for key in ("state", "job_ui_url", *HEALTH_KEYS)}
                            for name, job in jobs.items()})
