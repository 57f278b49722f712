"""The whole program for target ack (the dev stack as it is) under the Pulumi SDK mocks: the cloud
layer hands the Flink component its Kubernetes provider, SLB annotations and pod annotations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness.alicloud_mocks import ID_PREFIX, INTERNET_SLB_ADDRESS, SLB
from tests.harness.program import SECRET_SIG, UNKNOWN, USER_SET, ProgramRun, plaintext_occurrences, run_program
from tests.test_program_flink import SECRETS, SENTINEL_KEY, SENTINEL_USER

LB = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-"


@pytest.fixture(scope="module")
def dev_ack() -> ProgramRun:
    run = run_program({}, secrets=SECRETS)
    assert run.error is None, run.raw
    return run


def test_every_kubernetes_resource_uses_the_clusters_provider(dev_ack: ProgramRun) -> None:
    provider = dev_ack.one("pulumi:providers:kubernetes")
    assert provider.name == "ack-k8s"
    assert provider.parent == dev_ack.one("flink-hologres:alicloud:ServerlessCluster").urn
    kubernetes = [r for r in dev_ack.resources if r.type.startswith("kubernetes:")]
    assert len(kubernetes) >= 7
    for resource in kubernetes:
        assert resource.provider.startswith(provider.urn + "::"), resource.name


def test_rest_service_is_bound_to_the_slb_and_nothing_is_a_nodeport(dev_ack: ProgramRun) -> None:
    rest = dev_ack.by_name("flink-rest-service").state()
    assert rest["spec"]["type"] == "LoadBalancer"
    annotations = rest["metadata"]["annotations"]
    assert annotations[f"{LB}id"] == f"{ID_PREFIX[SLB]}ack-ui-slb"
    assert annotations[f"{LB}force-override-listeners"] == "true"
    assert annotations[f"{LB}address-type"] == "intranet"
    for service in dev_ack.of_type("kubernetes:core/v1:Service"):
        spec = service.state()["spec"]
        assert spec["type"] != "NodePort"
        assert all("nodePort" not in port for port in spec["ports"])


def test_exports_and_the_kubeconfig_stays_secret(dev_ack: ProgramRun) -> None:
    outputs = dev_ack.outputs
    assert outputs["clusterId"] == "c5e2a1ack-cluster"
    assert outputs["kubeconfig"][SECRET_SIG]  # wrapped: stored encrypted
    assert "client-key-data" in outputs["kubeconfig"]["value"]
    assert outputs["slbAddress"] == "192.168.0.77"
    assert outputs["zoneId"] == "cn-hangzhou-j"  # the only zone offering everything (tests/harness/alicloud_mocks.py)
    assert outputs["flinkRestUrl"] == outputs["flinkUiUrl"] == "https://192.168.0.77:8081"
    assert list(plaintext_occurrences(outputs, "client-key-data")) == []
    for sentinel in (SENTINEL_KEY, SENTINEL_USER):
        assert sentinel not in json.dumps(outputs)


def test_internet_ui_carries_the_acl_on_the_service() -> None:
    run = run_program({"uiAccess": "internet", "uiAllowedCidrs": ["203.0.113.0/24"]}, secrets=SECRETS)
    assert run.error is None, run.raw
    annotations = run.by_name("flink-rest-service").state()["metadata"]["annotations"]
    assert annotations[f"{LB}address-type"] == "internet"
    assert annotations[f"{LB}acl-status"] == "on"
    assert annotations[f"{LB}acl-type"] == "white"
    assert annotations[f"{LB}acl-id"].startswith("acl-")
    assert run.outputs["flinkUiUrl"] == f"https://{INTERNET_SLB_ADDRESS}:8081"  # issue 12: TLS proxy
    assert not [w for w in run.warnings() if "restAuth" in w]


def test_an_unauthenticated_rest_api_on_the_internet_slb_is_said_in_one_line() -> None:
    run = run_program({"uiAccess": "internet", "uiAllowedCidrs": ["203.0.113.0/24"], "restAuth": "false"},
                      secrets=SECRETS)
    assert run.error is None, run.raw
    [said] = [w for w in run.warnings() if "restAuth" in w]
    assert said.startswith("config 'restAuth': false puts Flink's REST API") and "\n" not in said
    assert "`pulumi config set restAuth true`" in said


@pytest.mark.parametrize(("config", "key"), [
    ({"uiAccess": "internet"}, "uiAllowedCidrs"),
    ({"uiAccess": "internet", "uiAllowedCidrs": ["0.0.0.0/0"]}, "uiAllowedCidrs[0]"),
    ({"restServiceType": "NodePort"}, "restServiceType"),
    ({"clusterProfile": "Autopilot"}, "clusterProfile"),
    ({"stateStorage": "oss://Bad_Bucket/flink"}, "stateStorage"),
    ({"stateStorage": "oss://team-bucket/flink", "dropStateOnDestroy": "true"}, "dropStateOnDestroy"),
    ({"serviceCidr": "192.168.128.0/20"}, "serviceCidr"),  # inside vpcCidr 192.168.0.0/16
    ({"vpcCidr": "10.0.0.0/8", "vswitchCidr": "10.1.0.0/24", "serviceCidr": "10.1.0.0/20"}, "serviceCidr"),
    ({"serviceCidr": "8.8.0.0/20"}, "serviceCidr"),
    # An existing VPC: its CIDRs (mocked: 172.16.0.0/12 + 10.10.0.0/16) are looked up; the default overlaps.
    ({"vpcId": "vpc-bp1existing", "vswitchIds": ["vsw-bp1aaa"]}, "serviceCidr"),
    ({"vpcId": "vpc-bp1nowhere", "vswitchIds": ["vsw-bp1aaa"]}, "vpcId"),
    ({"zoneId": "cn-hangzhou-b"}, "zoneId"),  # no enhanced NAT there (tests/harness/alicloud_mocks.py)
    ({"namePrefix": "team_orders"}, "namePrefix"),
])
def test_bad_cloud_input_stops_before_anything_is_declared(config: dict[str, object], key: str) -> None:
    run = run_program(config, secrets=SECRETS)
    assert run.error_type == "ConfigError", run.raw
    assert run.error is not None and run.error.startswith(f"config '{key}'")
    assert "\n" not in run.error and "Fix: " in run.error
    assert run.resources == []


def test_the_errors_name_the_fix_with_values_that_work() -> None:
    zone = run_program({"zoneId": "cn-hangzhou-b", "clusterProfile": "Serverless"}, secrets=SECRETS).error
    assert zone == ("config 'zoneId': cn-hangzhou-b cannot host the cluster; suitable zones: cn-hangzhou-j. "
                    "Fix: pulumi config set zoneId cn-hangzhou-j")  # Serverless: ECI rules out -k
    existing = run_program({"vpcId": "vpc-bp1existing", "vswitchIds": ["vsw-bp1aaa"]}, secrets=SECRETS)
    assert existing.error == ("config 'serviceCidr': 172.21.0.0/20 overlaps 172.16.0.0/12 (VPC vpc-bp1existing). "
                              "Fix: pulumi config set serviceCidr 10.96.0.0/20")
    fixed = run_program({"vpcId": "vpc-bp1existing", "vswitchIds": ["vsw-bp1aaa"],
                         "serviceCidr": "10.96.0.0/20"}, secrets=SECRETS)
    assert fixed.error is None, fixed.raw


LONG_STACK = "team-analytics-realtime-orders"  # flink-hologres-<stack> is 45 characters; 36 fit
STACK_CONFIG = dict(USER_SET)  # what a user sets after the quick start (stacks other than dev have no file)


def test_a_stack_name_too_long_for_the_cloud_names_stops_before_anything_is_declared() -> None:
    run = run_program(STACK_CONFIG, secrets=SECRETS, stack=LONG_STACK)
    assert run.error_type == "ConfigError", run.raw
    assert run.error == (
        "config 'namePrefix': 'flink-hologres-team-analytics-realtime-orders' from <project>-<stack> (stack "
        "'team-analytics-realtime-orders') must be 2-36 letters, digits or hyphens, starting with a letter "
        "(the cluster's name prefix allows 37 characters). Fix: pulumi config set namePrefix "
        "fh-team-analytics-realtime-orders  # or use a shorter stack name")
    assert run.resources == []


def test_a_long_stack_name_with_the_suggested_name_prefix_deploys() -> None:
    run = run_program(STACK_CONFIG | {"namePrefix": "fh-team-analytics-realtime-orders"}, secrets=SECRETS,
                      stack=LONG_STACK)
    assert run.error is None, run.raw
    cluster = run.one("alicloud:cs/managedKubernetes:ManagedKubernetes").plain()
    assert cluster["namePrefix"] == "fh-team-analytics-realtime-orders-" and len(cluster["namePrefix"]) <= 37
    user = run.one("alicloud:ram/user:User").plain()
    assert len(user["comments"]) <= 128 and len(user["name"]) <= 64


def test_the_prod_stack_example_is_protected_highly_available_and_upgrades_through_savepoints() -> None:
    run = run_program({}, secrets=SECRETS, stack="prod")
    assert run.error is None, run.raw
    cluster = run.one("alicloud:cs/managedKubernetes:ManagedKubernetes").plain()
    assert cluster["profile"] == "Acs" and cluster["deletionProtection"] is True
    assert cluster["addons"] == [{"name": "managed-coredns"}]
    assert run.by_name("flink-taskmanager").plain()["spec"]["replicas"] == 4
    assert run.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role")  # Kubernetes HA
    config = run.one("kubernetes:core/v1:ConfigMap").state()["data"]["config.yaml"]
    assert "high-availability.type: kubernetes" in config
    assert "state.savepoints.dir: oss://" in config
    pod = run.by_name("flink-jobmanager").state()["spec"]["template"]["spec"]
    script = pod["initContainers"][0]["command"][2]
    assert "/opt/flink/opt/flink-oss-fs-hadoop-*.jar" in script  # the plugin, by pattern
    # The OSS AccessKey: a file of the Secret that only the init container mounts.
    secret_volume = next(v["secret"] for v in pod["volumes"] if "secret" in v)
    assert secret_volume["items"] == [{"key": "flink-secret-options", "path": "flink-secret-options"}]
    assert "FLINK_PROPERTIES" not in str(pod)


def test_the_oss_access_key_reaches_flink_only_through_the_secret(dev_ack: ProgramRun) -> None:
    from tests.harness.alicloud_mocks import ACCESS_KEY_SECRET

    secret = dev_ack.one("kubernetes:core/v1:Secret", "flink-env")
    assert f"fs.oss.accessKeySecret: {ACCESS_KEY_SECRET}" in secret.state()["stringData"]["flink-secret-options"]
    for resource in dev_ack.resources:
        assert list(plaintext_occurrences(resource.inputs, ACCESS_KEY_SECRET)) == [], resource.name
        # The engine encrypts the provider's declared secret outputs (the AccessKey's `secret`).
        leaks = [path for path in plaintext_occurrences(resource.outputs, ACCESS_KEY_SECRET)
                 if path.split(".")[1] not in resource.additional_secret_outputs]
        assert leaks == [], resource.name
    assert ACCESS_KEY_SECRET not in json.dumps(dev_ack.outputs)
    config = dev_ack.one("kubernetes:core/v1:ConfigMap").state()["data"]["config.yaml"]
    assert "fs.oss.endpoint: oss-" in config and "accessKey" not in config


def test_a_job_behind_the_intranet_slb_warns_where_up_must_run(tmp_path: Path) -> None:
    jar = tmp_path / "job.jar"
    jar.write_bytes(b"jar")
    run = run_program({"jobJar": str(jar)}, secrets=SECRETS)
    assert run.error is None, run.raw
    assert run.one("pulumi-python:dynamic/flink:Job").plain()["rest_url"] == "https://192.168.0.77:8081"
    assert any("only machines inside the VPC" in w for w in run.warnings())


def test_preview_of_a_new_stack_runs_with_values_not_known_yet(tmp_path: Path) -> None:
    """`pulumi preview` before the first `up`: the cluster, its kubeconfig and the SLB address are unknown."""
    jar = tmp_path / "job.jar"
    jar.write_bytes(b"jar")
    run = run_program({"jobJar": str(jar)}, secrets=SECRETS, preview=True)
    assert run.error is None, run.raw
    job = run.one("pulumi-python:dynamic/flink:Job").inputs
    assert job["rest_url"] == UNKNOWN  # the engine passes it on as unknown; check/diff accept it
    kubeconfig = run.one("pulumi:providers:kubernetes").inputs["kubeconfig"]
    assert kubeconfig[SECRET_SIG] and kubeconfig["value"] == UNKNOWN  # no cluster yet; secret all the same
    assert len(run.of_type("kubernetes:apps/v1:Deployment")) == 2  # still all declared


def test_an_image_mirror_replaces_docker_hub_for_every_flink_container() -> None:
    run = run_program({"imageRegistryMirror": "registry-vpc.cn-hangzhou.aliyuncs.com/team"}, secrets=SECRETS)
    assert run.error is None, run.raw
    for deployment in ("flink-jobmanager", "flink-taskmanager"):
        pod = run.by_name(deployment).plain()["spec"]["template"]["spec"]
        for container in pod["containers"] + pod["initContainers"]:
            # The REST proxy (issue 12) comes through the mirror too.
            image = "nginx:1.27.5" if container["name"] == "rest-proxy" else "flink:1.20.3-java17"
            assert container["image"] == f"registry-vpc.cn-hangzhou.aliyuncs.com/team/{image}"


def test_destroy_then_up_adopts_the_kept_state_bucket_instead_of_creating_it(dev_ack: ProgramRun) -> None:
    from components.alicloud_state import resource_name
    from tests.harness.alicloud_mocks import ACCOUNT_ID, BUCKETS_INVOKE, REGION

    bucket = resource_name(project="flink-hologres", stack="dev", account_id=ACCOUNT_ID, region=REGION)
    fresh = dev_ack.one("alicloud:oss/bucket:Bucket")
    assert fresh.import_id == "" and fresh.plain()["bucket"] == bucket
    # After `destroy` kept it, the account still has the bucket: the next `up` imports it.
    kept = {"id": REGION, "names": [bucket], "buckets": [{"id": bucket, "name": bucket}]}
    again = run_program({}, secrets=SECRETS, invokes={BUCKETS_INVOKE: kept})
    assert again.error is None, again.raw
    adopted = again.one("alicloud:oss/bucket:Bucket")
    assert adopted.import_id == bucket
    assert adopted.plain() == fresh.plain()  # the same inputs: import, then nothing to change
    assert sorted(r.name for r in again.resources) == sorted(r.name for r in dev_ack.resources)
    assert [r.name for r in again.resources if r.import_id] == [adopted.name]  # nothing else is imported
