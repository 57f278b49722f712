"""The program under the Pulumi SDK mocks: the dev stack's Flink session cluster (target kubeconfig)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.harness.program import USER_SET, ProgramRun, plaintext_occurrences, run_program
from tests.harness.secret_mocks import sentinel as generated

SENTINEL_USER = "AKID-S3NT1NEL-user-7f3a"
SENTINEL_KEY = "S3NT1NEL-secret-9c1e-do-not-leak"
SECRETS = {"hologresUser": SENTINEL_USER, "hologresPassword": SENTINEL_KEY}
KUBECONFIG = {"target": "kubeconfig"}

SESSION_CLUSTER = "flink-hologres:flink:SessionCluster"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    run = run_program(KUBECONFIG, secrets=SECRETS)
    assert run.error is None, run.raw
    return run


def _container(run: ProgramRun, deployment: str) -> dict[str, Any]:
    spec = run.one(DEPLOYMENT, deployment).plain()["spec"]
    return spec["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


def test_dev_stack_declares_the_tutorials_session_cluster(dev: ProgramRun) -> None:
    types = sorted((r.type, r.name) for r in dev.resources)
    assert types == sorted([
        ("pulumi:providers:kubernetes", "kubernetes"),
        (SESSION_CLUSTER, "flink"),
        ("kubernetes:core/v1:Namespace", "flink-namespace"),
        (CONFIG_MAP, "flink-config"),
        (SECRET, "flink-env"),
        (DEPLOYMENT, "flink-jobmanager"),
        (DEPLOYMENT, "flink-taskmanager"),
        (SERVICE, "flink-jobmanager-service"),
        (SERVICE, "flink-rest-service"),
        ("pulumi-python:dynamic/hologres:Table", "order-details"),
        ("pulumi-python:dynamic/hologres:Writer", "hologres-writer"),  # issue 12
        ("random:index/randomPassword:RandomPassword", "hologres-writer-password"),
        ("flink-hologres:flink:RestAuth", "flink-rest-auth"),
        ("tls:index/privateKey:PrivateKey", "flink-rest-auth-ca-key"),
        ("tls:index/privateKey:PrivateKey", "flink-rest-auth-server-key"),
        ("tls:index/selfSignedCert:SelfSignedCert", "flink-rest-auth-ca"),
        ("tls:index/certRequest:CertRequest", "flink-rest-auth-server-csr"),
        ("tls:index/locallySignedCert:LocallySignedCert", "flink-rest-auth-server"),
        ("random:index/randomPassword:RandomPassword", "flink-rest-auth-password"),
        (SECRET, "flink-rest-auth-proxy"),
    ])
    component = dev.one(SESSION_CLUSTER)
    provider = dev.one("pulumi:providers:kubernetes")
    for resource in dev.resources:
        if resource.type.startswith("kubernetes:"):
            # The proxy's Secret belongs to the session cluster's RestAuth child (issue 12).
            assert resource.parent in (component.urn, dev.one("flink-hologres:flink:RestAuth").urn), resource.name
            assert resource.provider.startswith(provider.urn + "::"), resource.name
            if not resource.type.endswith("Namespace"):
                assert resource.plain()["metadata"]["namespace"] == "flink", resource.name


def test_deployments_replicas_ports_probes_and_hardening(dev: ProgramRun) -> None:
    jobmanager = dev.one(DEPLOYMENT, "flink-jobmanager").plain()
    taskmanager = dev.one(DEPLOYMENT, "flink-taskmanager").plain()
    assert jobmanager["metadata"]["name"] == "flink-jobmanager"
    assert jobmanager["spec"]["replicas"] == 1
    assert taskmanager["spec"]["replicas"] == 2  # taskManagers in Pulumi.dev.yaml
    # Never two JobManagers behind one Service; TaskManagers roll as usual.
    assert jobmanager["spec"]["strategy"] == {"type": "Recreate"} and "strategy" not in taskmanager["spec"]
    jm, tm = _container(dev, "flink-jobmanager"), _container(dev, "flink-taskmanager")
    assert jm["image"] == tm["image"] == "flink:1.20.3-java17"  # pinned in Pulumi.dev.yaml
    # Flink's own start scripts, not the image entrypoint (which rewrites jobmanager.rpc.address).
    assert jm["command"] == ["/opt/flink/bin/jobmanager.sh"] and tm["command"] == ["/opt/flink/bin/taskmanager.sh"]
    assert jm["args"] == tm["args"] == ["start-foreground"]
    # Issue 12: Flink's REST port is renamed and on loopback; "webui" 8081 (what the Services target) is the proxy's.
    assert {p["name"]: p["containerPort"] for p in jm["ports"]} == {"rpc": 6123, "blob-server": 6124,
                                                                     "flink-rest": 18081, "metrics": 9249}
    assert {p["name"]: p["containerPort"] for p in tm["ports"]} == {"rpc": 6122, "metrics": 9249}  # no query state
    assert jm["livenessProbe"]["tcpSocket"]["port"] == 6123
    assert tm["livenessProbe"]["tcpSocket"]["port"] == 6122
    assert jm["readinessProbe"]["exec"]["command"][:2] == ["bash", "-c"]  # loopback only: probed from inside
    for container, memory in ((jm, "1600Mi"), (tm, "1728Mi")):
        assert container["resources"]["requests"] == container["resources"]["limits"] == {"cpu": "1", "memory": memory}
        security = container["securityContext"]
        assert security["runAsUser"] == 9999 and security["runAsNonRoot"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
    for deployment in (jobmanager, taskmanager):
        pod = deployment["spec"]["template"]
        assert pod["spec"]["securityContext"]["runAsUser"] == 9999
        assert set(deployment["spec"]["selector"]["matchLabels"].items()) <= set(pod["metadata"]["labels"].items())
        assert pod["metadata"]["labels"]["app.kubernetes.io/part-of"] == "flink-hologres"
        assert len(pod["metadata"]["annotations"]["checksum/config"]) == 64


def test_config_map_carries_the_version_specific_file_and_log4j(dev: ProgramRun) -> None:
    data = dev.one(CONFIG_MAP).plain()["data"]
    assert set(data) == {"config.yaml", "log4j-console.properties"}
    assert "jobmanager.rpc.address: flink-jobmanager" in data["config.yaml"]
    assert "taskmanager.numberOfTaskSlots: 2" in data["config.yaml"]
    assert "--add-opens=java.base/java.util=ALL-UNNAMED" in data["config.yaml"]
    pod = dev.one(DEPLOYMENT, "flink-jobmanager").plain()["spec"]["template"]["spec"]
    volume = pod["volumes"][0]
    assert volume["configMap"]["name"] == dev.one(CONFIG_MAP).state()["metadata"]["name"]
    assert [item["key"] for item in volume["configMap"]["items"]] == ["config.yaml", "log4j-console.properties"]
    # The init container writes the complete configuration where FLINK_CONF_DIR points.
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["FLINK_CONF_DIR"] == "/opt/flink/conf" and env["FLINK_PLUGINS_DIR"] == "/opt/flink/pod-plugins"
    script = pod["initContainers"][0]["command"][2]
    assert "umask 077" in script
    assert "cat /opt/flink/conf-template/config.yaml > /opt/flink/conf/config.yaml" in script
    assert "flink-secret" not in json.dumps(pod)  # no secret Flink options on the dev stack


def test_services_and_the_tutorials_nodeport_option() -> None:
    run = run_program({**KUBECONFIG, "restServiceType": "NodePort"}, secrets=SECRETS)
    rest = run.one(SERVICE, "flink-rest-service").plain()
    assert rest["metadata"]["name"] == "flink-jobmanager-rest"
    assert rest["spec"]["type"] == "NodePort"
    assert rest["spec"]["ports"] == [{"name": "rest", "port": 8081, "targetPort": "webui", "nodePort": 30081}]
    assert not [s for s in run.of_type(SERVICE) if "query" in s.name]  # nothing listens on 6125
    internal = run.one(SERVICE, "flink-jobmanager-service").plain()
    assert internal["metadata"]["name"] == "flink-jobmanager"  # Flink's rpc address
    assert internal["spec"]["type"] == "ClusterIP"
    assert {p["port"] for p in internal["spec"]["ports"]} == {6123, 6124, 8081}


def test_flink_2_has_no_queryable_state_and_reads_config_yaml() -> None:
    run = run_program({**KUBECONFIG, "flinkImage": "flink:2.2.0-java17"}, secrets=SECRETS)
    assert sorted(s.name for s in run.of_type(SERVICE)) == ["flink-jobmanager-service", "flink-rest-service"]
    data = run.one(CONFIG_MAP).plain()["data"]
    assert "config.yaml" in data and "queryable-state" not in data["config.yaml"]
    assert [p["name"] for p in _container(run, "flink-taskmanager")["ports"]] == ["rpc", "metrics"]


def test_tutorial_image_still_renders_flink_conf_with_a_log4shell_warning() -> None:
    run = run_program({**KUBECONFIG, "flinkImage": "apache/flink:1.13.0-scala_2.11"}, secrets=SECRETS)
    assert run.error is None
    assert "flink-conf.yaml" in run.one(CONFIG_MAP).plain()["data"]
    assert any("CVE-2021-44228" in w for w in run.warnings())


def test_every_env_var_comes_from_the_secret_and_secrets_never_leak(dev: ProgramRun) -> None:
    secret = dev.one(SECRET, "flink-env")
    secret_name = secret.state()["metadata"]["name"]
    expected = {"HOLO_ACCESS_ID", "HOLO_ACCESS_KEY", "HOLO_ENDPOINT", "HOLO_TABLE_NAME", "HOLO_TEST_DB"}
    assert set(secret.plain()["stringData"]) == expected
    plain = {"FLINK_CONF_DIR", "FLINK_PLUGINS_DIR"}  # paths, never credentials
    # The job's own login (issue 12), never the admin key.
    assert secret.plain()["stringData"]["HOLO_ACCESS_KEY"] == generated("hologres-writer-password", "password")
    assert secret.plain()["stringData"]["HOLO_TABLE_NAME"] == "public.order_details"
    for deployment in ("flink-jobmanager", "flink-taskmanager"):
        env = _container(dev, deployment)["env"]
        assert {e["name"] for e in env} == expected | plain
        for entry in (e for e in env if e["name"] not in plain):
            assert "value" not in entry
            assert entry["valueFrom"]["secretKeyRef"] == {"name": secret_name, "key": entry["name"]}
    # The sentinels exist only inside Pulumi's secret marker, in the Secret and nowhere else.
    for resource in dev.resources:
        for sentinel in (SENTINEL_KEY, SENTINEL_USER):
            assert list(plaintext_occurrences(resource.inputs, sentinel)) == [], resource.name
            if resource.type != SECRET:
                assert sentinel not in json.dumps(resource.inputs), resource.name
    for sentinel in (SENTINEL_KEY, SENTINEL_USER):
        assert sentinel not in json.dumps(dev.outputs)
        assert sentinel not in json.dumps(dev.logs)


def _checksum(run: ProgramRun) -> str:
    annotations = run.one(DEPLOYMENT, "flink-taskmanager").plain()["spec"]["template"]["metadata"]["annotations"]
    return str(annotations["checksum/config"])


def test_checksum_rolls_pods_on_config_changes_only(dev: ProgramRun) -> None:
    again = run_program(KUBECONFIG, secrets=SECRETS)
    assert _checksum(again) == _checksum(dev)
    rotated = run_program(KUBECONFIG, secrets={**SECRETS, "hologresPassword": "another-secret"})
    assert _checksum(rotated) == _checksum(dev)  # values are not hashed; the Secret's new name rolls pods
    assert _checksum(run_program({**KUBECONFIG, "taskSlots": "3", "defaultParallelism": "2"},
                                 secrets=SECRETS)) != _checksum(dev)
    assert _checksum(run_program({**KUBECONFIG, "flinkConfig": {"state.backend.type": "rocksdb"}},
                                 secrets=SECRETS)) != _checksum(dev)


def test_exports(dev: ProgramRun) -> None:
    assert dev.outputs["namespace"] == "flink"
    assert dev.outputs["hologresTable"] == "public.order_details"


@pytest.mark.parametrize(
    ("config", "key", "hint"),
    [
        ({"taskManagers": "0"}, "taskManagers", "at least 1"),
        ({"defaultParallelism": "9"}, "defaultParallelism", "exceeds the 4 slots"),
        ({"jobManagerMemory": "lots"}, "jobManagerMemory", "not a memory size"),
        ({"taskManagerMemory": "900m"}, "taskManagerMemory", "minimum process size of 982m"),
        ({"jobManagerMemory": "500m"}, "jobManagerMemory", "minimum process size of 577m"),
        ({"flinkImage": "Flink:1.20"}, "flinkImage", "not a container image"),
        ({"flinkImage": "flink:latest"}, "flinkVersion", "pulumi config set flinkVersion"),
        ({"namespace": "Flink_NS"}, "namespace", "not a Kubernetes name"),
        ({"target": "gke"}, "target", "not one of ack, kubeconfig"),
        ({"hologresEndpoint": "host:99999"}, "hologresEndpoint", "host:port"),
        ({"hologresEndpoint": None}, "hologresEndpoint", "is required"),
        ({"hologresTable": "public."}, "hologresTable", "schema.table"),
        ({"taskManagerCpu": "fast"}, "taskManagerCpu", "CPU quantity"),
        ({"flinkConfig": {"taskmanager.numberOfTaskSlots": 8}}, "flinkConfig", "taskSlots"),
        ({"restServiceType": "Ingress"}, "restServiceType", "not one of"),
    ],
)
def test_bad_input_stops_with_one_line_naming_the_key(config: dict[str, Any], key: str, hint: str) -> None:
    run = run_program({**KUBECONFIG, **config}, secrets=SECRETS)
    assert run.error_type == "ConfigError", run.raw
    assert run.error is not None
    assert "\n" not in run.error
    assert run.error.startswith(f"config '{key}'")
    assert hint in run.error
    assert "Fix:" in run.error
    assert run.resources == []  # nothing declared before validation
    assert "Traceback" not in run.raw


def test_missing_secret_names_the_command() -> None:
    run = run_program(KUBECONFIG, secrets={"hologresUser": SENTINEL_USER})
    assert run.error == ("config 'hologresPassword': is required and missing. "
                         "Fix: pulumi config set --secret hologresPassword  # asks for the AccessKey secret")


def test_plaintext_secret_in_stack_config_is_refused() -> None:
    run = run_program({**KUBECONFIG, "hologresPassword": SENTINEL_KEY}, secrets={"hologresUser": SENTINEL_USER})
    assert run.error is not None and run.error.startswith("config 'hologresPassword': is stored in plaintext")
    assert SENTINEL_KEY not in run.error


def test_the_table_can_be_managed_through_another_endpoint_than_the_job_uses() -> None:
    run = run_program({**KUBECONFIG, "hologresAdminEndpoint": "hgpostcn-public.hologres.aliyuncs.com:80"},
                      secrets=SECRETS)
    table = run.one("pulumi-python:dynamic/hologres:Table").plain()
    assert (table["host"], table["port"]) == ("hgpostcn-public.hologres.aliyuncs.com", 80)
    env = run.one(SECRET, "flink-env").plain()["stringData"]
    assert env["HOLO_ENDPOINT"] == USER_SET["hologresEndpoint"]


def test_a_kubeconfig_given_as_content_stays_secret() -> None:
    content = "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: S3NT1NEL-kube-token\n"
    run = run_program(KUBECONFIG, secrets={**SECRETS, "kubeconfig": content})
    assert run.error is None, run.raw
    provider = run.one("pulumi:providers:kubernetes")
    assert provider.plain()["kubeconfig"] == content
    for resource in run.resources:
        assert list(plaintext_occurrences(resource.inputs, "S3NT1NEL-kube-token")) == [], resource.name
    assert "S3NT1NEL-kube-token" not in json.dumps(run.outputs)


def test_kubernetes_waits_are_sized_for_serverless_image_pulls(dev: ProgramRun) -> None:
    waits = {"create": "20m", "update": "20m", "delete": "15m"}
    for resource in dev.of_type(DEPLOYMENT) + dev.of_type(SERVICE):
        assert resource.options["customTimeouts"] == waits, resource.name


def test_a_new_slb_binding_replaces_the_rest_service_so_the_wait_sees_the_new_address() -> None:
    # pulumi-kubernetes waits for a LoadBalancer ingress only when it creates a Service; an update keeps
    # the old ingress in its status and "succeeds" at once.
    run = run_program({}, secrets=SECRETS)  # the dev stack: target ack, LoadBalancer bound to the SLB
    assert run.error is None, run.raw
    rest = run.by_name("flink-rest-service")
    assert "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-id" in rest.plain()["metadata"]["annotations"]
    assert rest.options["replaceOnChanges"] == ["metadata.annotations", "spec.type"]
    # The Service's name is fixed (flink-jobmanager-rest): the old one must go before the new one comes.
    assert rest.options["deleteBeforeReplace"] is True
    for other in ("flink-jobmanager-service", "flink-jobmanager", "flink-taskmanager"):
        assert run.by_name(other).options["replaceOnChanges"] == [], other
