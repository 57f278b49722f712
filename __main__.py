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
from components.alicloud_state import AlicloudStateStorage, StateStorageArgs, uses_oss
from components.flink_job import FlinkJob, FlinkJobArgs
from components.flink_job_health import HEALTH_KEYS
from components.flink_rest import file_sha256
from components.flink_rest_auth import RestAuthOptions, https_url
from components.flink_rest_proxy import NGINX_IMAGE
from components.flink_session_cluster import FlinkSessionCluster, FlinkSessionClusterArgs
from components.hologres_ddl import DEFAULT_ORDER_DETAILS
from components.hologres_table import HologresTable, HologresTableArgs
from components.hologres_writer import declare_writer


def _unknown_in_preview() -> pulumi.Output[str]:
    """A value not known before `up` (a jar CI did not build): the preview shows it as unknown."""

    async def value() -> None:
        return None

    async def known() -> bool:
        return False

    return pulumi.Output(set(), value(), known())


def _secret_if(secret: bool, value: object) -> object:
    """Config set with --secret reaches the resource as a Pulumi secret, so its state stores it encrypted."""
    return pulumi.Output.secret(value) if secret else value


settings = stack_settings.load()
for warning in settings.warnings + settings.hologres.warnings:
    pulumi.log.warn(warning)
flink_settings, hologres = settings.flink, settings.hologres
# The components' arguments check themselves: build them all before the first resource is declared,
# so a bad value stops the program with nothing half-created.
cloud_args = (ServerlessClusterArgs.from_settings(settings.alicloud, project=settings.project, stack=settings.stack)
              if settings.alicloud is not None else None)
storage_args = (StateStorageArgs.from_settings(settings)
                if settings.alicloud is not None and uses_oss(settings.state_storage) else None)

# 1. Where Kubernetes runs: a cluster this program creates, or one a kubeconfig points at.
if cloud_args is not None:
    cloud = AlicloudServerlessCluster("ack", args=cloud_args)
    k8s_provider = cloud.k8s_provider
    image = mirror_image(flink_settings.image, cloud.image_registry_mirror)
    rest_service = {"rest_service_type": "LoadBalancer", "rest_service_annotations": cloud.rest_service_annotations,
                    "pod_annotations": cloud.pod_annotations, "rest_node_port": None}
    derived_rest_url: pulumi.Input[str] | None = cloud.flink_rest_url
    pulumi.export("clusterId", cloud.cluster_id)
    pulumi.export("kubeconfig", cloud.kubeconfig)  # a secret Output
    pulumi.export("slbAddress", cloud.slb_address)
    pulumi.export("zoneId", cloud.zone_id)
    # The address the pods leave through: what a Hologres public endpoint's allowlist needs.
    pulumi.export("egressIp", cloud.egress_ip)
else:
    k8s_provider = k8s.Provider("kubernetes", kubeconfig=settings.kubeconfig)
    image = flink_settings.image
    rest_service = {"rest_service_type": flink_settings.rest_service_type}
    derived_rest_url = None

# 2. Durable state for checkpoints, savepoints and HA metadata: on ack a bucket with its own
#    least-privilege RAM user; elsewhere the URI the user gives.
state_location: pulumi.Input[str] | None = None
state_scheme: str | None = None
flink_options: pulumi.Input[dict] = dict(flink_settings.extra_config)
secret_flink_options = None
if storage_args is not None:
    storage = AlicloudStateStorage("state", args=storage_args)
    state_location, state_scheme = storage.base_uri, "oss"
    flink_options = storage.flink_options.apply(lambda options: {**options, **flink_settings.extra_config})
    secret_flink_options = storage.secret_flink_options
    pulumi.export("stateUri", storage.base_uri)
elif settings.state_storage:
    state_location = settings.state_storage
    state_scheme = flink_config.StateLocation(settings.state_storage).scheme

# 3. The sink table, with the tutorial job's schema; the same name reaches the job's HOLO_TABLE_NAME.
table = HologresTable("order-details", HologresTableArgs(
    host=hologres.admin_host,
    port=hologres.admin_port,
    database=hologres.database,
    table=DEFAULT_ORDER_DETAILS.with_name(hologres.table),
    drop_table_on_destroy=hologres.drop_table_on_destroy,
    sslmode=hologres.sslmode,
    ssl_root_cert=hologres.ssl_root_cert,
))
# The job's own login, scoped to that table: the pods get it, never the admin AccessKey (issue 12).
writer = declare_writer("hologres-writer", host=hologres.admin_host, port=hologres.admin_port,
                        database=hologres.database, schema_name=table.schema_name, table_name=table.table_name,
                        login=settings.security.writer_login, rotation=settings.security.credentials_rotation,
                        sslmode=hologres.sslmode, ssl_root_cert=hologres.ssl_root_cert)

# `up` waits until every TaskManager registered, through a REST URL this machine reaches: the one
# given, the public SLB, a LoadBalancer's address, or the intranet SLB when jobs go through it anyway.
jobs_configured = any(job.jar for job in settings.jobs)
ready_rest_url = settings.flink_rest_url or (
    derived_rest_url if settings.alicloud is not None
    and (settings.alicloud.ui_access == "internet" or jobs_configured) else None)

# 4. The Flink session cluster; the Hologres connection reaches jobs as the tutorial's env vars.
flink = FlinkSessionCluster(
    "flink",
    FlinkSessionClusterArgs(
        namespace=settings.namespace,
        image=image,
        version=flink_settings.version,
        java_version=flink_settings.java_version,
        size=flink_settings.size,
        flink_config=flink_options,
        secret_env={
            "HOLO_ENDPOINT": f"{hologres.host}:{hologres.port}",
            "HOLO_TEST_DB": hologres.database,
            "HOLO_TABLE_NAME": hologres.table,  # the same validated value the table was created from
            "HOLO_ACCESS_ID": writer.login_name,
            "HOLO_ACCESS_KEY": writer.password,
        },
        state_location=state_location,
        state_scheme=state_scheme,
        secret_flink_options=secret_flink_options,
        high_availability=settings.high_availability == "kubernetes",
        ready_rest_url=ready_rest_url,
        ready_via_load_balancer=settings.alicloud is None,
        ready_deadline_seconds=settings.job_deadlines.rest_seconds,
        **rest_service,
        metrics_port=settings.metrics.port,
        pod_monitor=settings.metrics.pod_monitor,
        # Issue 12: nginx with TLS + basic auth in front of Flink's REST API (the SLB's address in the certificate).
        rest_auth=RestAuthOptions(rotation=settings.security.credentials_rotation,
                                  ip_addresses=[cloud.slb_address] if cloud_args is not None else [],
                                  image=mirror_image(NGINX_IMAGE, cloud.image_registry_mirror)
                                  if cloud_args is not None else NGINX_IMAGE)
        if settings.security.rest_auth else None,
    ),
    opts=pulumi.ResourceOptions(provider=k8s_provider),
)

flink_rest_url = settings.flink_rest_url or derived_rest_url or flink.external_rest_url
rest_auth = flink.rest_auth  # None without restAuth
if rest_auth is not None:
    flink_rest_url = pulumi.Output.from_input(flink_rest_url).apply(https_url)

# 5. The job(s) on the session cluster, each its own resource: adding or removing one leaves the
#    others running. They depend on the cluster and the table, so destroy stops them first.
jobs = {}
for job in (j for j in settings.jobs if j.jar):
    jobs[job.name] = FlinkJob(
        f"job-{job.name}",
        FlinkJobArgs(
            rest_url=flink_rest_url,
            jar_path=job.jar,
            jar_sha256=_unknown_in_preview() if job.jar_missing else file_sha256(job.jar),
            entry_class=job.entry_class,
            args=_secret_if(job.secret_args, job.args),
            parallelism=job.parallelism,
            upgrade_mode=job.upgrade_mode,
            savepoint_dir=job.savepoint_dir or flink.savepoint_dir,
            allow_non_restored_state=job.allow_non_restored_state,
            flink_configuration=_secret_if(job.secret_flink_config, job.flink_config),
            job_name=f"{settings.project}/{settings.stack}/{job.name}",
            rest_deadline_seconds=settings.job_deadlines.rest_seconds,
            start_deadline_seconds=settings.job_deadlines.start_seconds,
            savepoint_deadline_seconds=settings.job_deadlines.savepoint_seconds,
            desired_state=job.state,
            job_stable_seconds=job.stable_seconds,
            require_checkpoint=job.require_checkpoint,
            max_checkpoint_age_seconds=job.max_checkpoint_age_seconds,
            savepoints_to_keep=job.savepoints_to_keep,
            abandon_on_unreachable=job.abandon_on_unreachable,
            initial_savepoint_path=job.initial_savepoint_path,
            # What replaces the JobManager (its config; the cluster's namespace): a change makes the job
            # check it survived, or resubmit it from its last snapshot, in the same `up`.
            cluster_revision=flink.revision,
            # The table it writes into, as a property dependency: a rebuild the user allowed stops the job
            # before the DROP and restarts it from its savepoint after.
            sink_identity=table.identity,
            **(rest_auth.access() if rest_auth is not None else {}),
        ),
        opts=pulumi.ResourceOptions(depends_on=[flink, table]),
    )

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
