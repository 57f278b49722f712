"""The rendered pods, run the way a kubelet runs them (tests/harness/pods.py), for Flink 1.18, 1.20, 2.2,
with the authenticating REST proxy sidecar in the JobManager pod (restAuth, the default): every
TaskManager registers with the rendered slots, another pod gets 401 without the credential and nothing
from Flink's loopback port, the authenticated client runs a job with every task RUNNING, the probes pass,
the start path and secrets are what the manifests say, and with Kubernetes HA Flink's Kubernetes client
addresses the pods' namespace."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from components import flink_rest_proxy as proxy
from tests.harness import REPO_ROOT, prometheus
from tests.harness.api_recorder import ApiRecorder
from tests.harness.flink import read_config_file
from tests.harness.java import COUNTING_JOB, compile_jobs_jar
from tests.harness.pod_rest_client import PROBED
from tests.harness.pods import Pod, PodCluster
from tests.harness.program import ProgramRun, run_program
from tests.harness.secret_mocks import sentinel
from tests.test_program_flink import KUBECONFIG, SECRETS

pytestmark = pytest.mark.flink

IMAGES = {"1.18": "flink:1.18.1-java17", "1.20": "flink:1.20.3-java17", "2.2": "flink:2.2.0-java17"}
# The Hologres password reaches the pods through secretKeyRef: `$`, spaces and `*` must arrive unchanged.
SENTINEL = "S3NT1NEL $HOME *.jar  two  spaces $(POD_IP)"
REST_PASSWORD = sentinel("flink-rest-auth-password", "password")  # the program's generated REST password
# What the FlinkJob provider is given inside the cluster: the Service name, on the Service's port.
SERVICE_URL = "https://flink-jobmanager-rest:8081"
BOOT_TIMEOUT_S = 240
HA_TIMEOUT_S = 180
# A user setting, through the program's flinkConfig: on a 2-core machine shared with other test runs the
# JobManager can take over 10 s (the default) to accept a slot offer, and the TaskManager frees the slot.
LOADED_MACHINE = {"taskmanager.slot.timeout": "60 s"}
TIMINGS: dict[str, float] = {}  # printed with `pytest -s`


def kubernetes_objects(run: ProgramRun) -> list[dict[str, Any]]:
    return [r.state() for r in run.resources if r.type.startswith("kubernetes:")]


def rendered_config(run: ProgramRun) -> tuple[str, str]:
    data = run.one("kubernetes:core/v1:ConfigMap").state()["data"]
    return next((name, text) for name, text in data.items() if name.endswith(".yaml"))


def flink_get(pods: PodCluster, jobmanager: Pod, path: str) -> requests.Response:
    """Flink's own answer, read inside the JobManager pod on its loopback port (as `kubectl exec … curl
    localhost` would): the test's view, behind the proxy that test_the_proxy_… exercises."""
    url = f"http://127.0.0.1:{proxy.FLINK_LOOPBACK_PORT}{path}"
    return pods.in_pod(jobmanager, lambda: requests.get(url, timeout=30))


@dataclass
class Booted:
    version: str
    run: ProgramRun
    pods: PodCluster

    @property
    def jobmanager(self) -> Pod:
        return self.pods.pods_of("flink-jobmanager")[0]

    def rest(self, path: str) -> Any:
        return flink_get(self.pods, self.jobmanager, path).json()


@pytest.fixture(scope="module", params=sorted(IMAGES))
def cluster(request: pytest.FixtureRequest) -> Iterator[Booted]:
    version = request.param
    run = run_program({**KUBECONFIG, "flinkImage": IMAGES[version], "flinkConfig": LOADED_MACHINE},
                      secrets={**SECRETS, "hologresPassword": SENTINEL})
    assert run.error is None, run.raw
    pods = PodCluster(kubernetes_objects(run), version=version)
    started = time.monotonic()
    pods.start()
    try:
        booted = Booted(version, run, pods)
        # While the JobManager elects its leader, /overview answers {"errors": [...]}: not yet.
        pods.wait_for("2 TaskManagers with 4 slots", lambda: (lambda o: (o.get("taskmanagers"), o.get("slots-total")))(
            booted.rest("/overview")) == (2, 4), BOOT_TIMEOUT_S)
        TIMINGS[f"registered {version}"] = time.monotonic() - started
        print(f"\nFlink {version}: 2 TaskManagers registered {TIMINGS[f'registered {version}']:.1f}s after start")
        yield booted
    finally:
        pods.stop()


def test_every_taskmanager_registers_with_the_rendered_slots(cluster: Booted) -> None:
    options = read_config_file(dict([rendered_config(cluster.run)]))
    slots = int(options["taskmanager.numberOfTaskSlots"])
    deployment = cluster.run.one("kubernetes:apps/v1:Deployment", "flink-taskmanager").state()
    taskmanagers = cluster.rest("/taskmanagers")["taskmanagers"]
    assert len(taskmanagers) == deployment["spec"]["replicas"] == 2
    assert [tm["slotsNumber"] for tm in taskmanagers] == [slots, slots]
    # Each registered from its own pod, at the JobManager the Service name resolves to.
    tm_ips = {pod.ip for pod in cluster.pods.pods_of("flink-taskmanager")}
    assert {tm["path"].split("@", 1)[1].split(":", 1)[0] for tm in taskmanagers} == tm_ips
    config = {entry["key"]: entry["value"] for entry in cluster.rest("/jobmanager/config")}
    assert config["jobmanager.rpc.address"] == "flink-jobmanager"


def test_probes_pass_on_the_healthy_cluster(cluster: Booted) -> None:
    probed = []
    for pod in cluster.pods.pods:
        for container in (c for c in pod.containers if not c.init):
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                if kind in container.spec:
                    assert cluster.pods.probe(pod, container, kind), f"{pod.name}/{container.name} {kind}"
                    probed.append((container.name, kind, next(iter(container.spec[kind].keys() & {
                        "exec", "tcpSocket", "httpGet"}))))
    # Liveness (tcpSocket) on all three Flink containers; Flink's readiness an exec inside the JobManager's
    # Flink container (its REST is on loopback); the proxy's readiness and liveness tcpSocket on 8081.
    assert sorted(probed) == sorted([("jobmanager", "livenessProbe", "tcpSocket"),
                                     ("jobmanager", "readinessProbe", "exec"),
                                     ("rest-proxy", "livenessProbe", "tcpSocket"),
                                     ("rest-proxy", "readinessProbe", "tcpSocket"),
                                     *[("taskmanager", "livenessProbe", "tcpSocket")] * 2])
    # The exec probe fails when Flink does not answer there: it probes the loopback port, nothing else.
    flink = cluster.jobmanager.container()
    wrong = cluster.pods.exec(flink, ["bash", "-c", proxy.readiness_script(proxy.FLINK_LOOPBACK_PORT + 1)], 5)
    assert wrong.returncode != 0


def test_every_pod_exports_prometheus_metrics_on_its_annotated_port(cluster: Booted) -> None:
    """What a stock Prometheus `kubernetes-pods` job does: read the pod's prometheus.io annotations and
    scrape that port and path on the pod IP, from outside the pod (issue 13)."""
    scraped = {}
    for pod in cluster.pods.pods:
        deployment = cluster.run.one("kubernetes:apps/v1:Deployment", pod.deployment).state()
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        port = int(annotations["prometheus.io/port"])
        assert any(p["name"] == "metrics" and p["containerPort"] == port for p in pod.container().spec["ports"])
        response = cluster.pods.get(pod, port, annotations["prometheus.io/path"])
        assert response.status_code == 200
        scraped[pod.name] = {s.name: s.value for s in prometheus.parse(response.text)}
    jobmanager = scraped[cluster.jobmanager.name]
    assert jobmanager["flink_jobmanager_numRegisteredTaskManagers"] == 2
    assert jobmanager["flink_jobmanager_taskSlotsTotal"] == 4
    for pod in cluster.pods.pods_of("flink-taskmanager"):
        assert scraped[pod.name]["flink_taskmanager_Status_JVM_Memory_Heap_Used"] > 0


def test_the_proxy_admits_only_the_authenticated_client_from_another_pod(cluster: Booted) -> None:
    """Issue 12 in the pods: from the TaskManager pod (its network, its /etc/hosts, its user: a debug container
    there, since the test's code is on the host), the Service
    name on 8081 is nginx with the program's certificate; no credential or a wrong one gets 401 (upload and
    run included), Flink's own port is closed to it, and the authenticated client with the pinned CA and
    the program's password runs a job to every task RUNNING, as the FlinkJob provider would."""
    jar = compile_jobs_jar(cluster.version)
    outputs = cluster.run.outputs
    taskmanager = cluster.pods.pods_of("flink-taskmanager")[0]
    request = {"url": SERVICE_URL, "user": outputs["flinkUiUser"], "password": outputs["flinkUiPassword"]["value"],
               "ca_pem": outputs["flinkRestCaPem"], "jobmanager_ip": cluster.jobmanager.ip,
               "loopback_port": proxy.FLINK_LOOPBACK_PORT, "jar": str(jar), "entry_class": COUNTING_JOB,
               "args": ["/tmp/counts", "pods"], "parallelism": 4}
    assert request["password"] == REST_PASSWORD
    done = cluster.pods.debug(taskmanager, [sys.executable, "-m", "tests.harness.pod_rest_client"],
                              timeout=420, stdin=json.dumps(request),
                              env={"PYTHONPATH": str(REPO_ROOT)})
    assert done.returncode == 0, done.stderr[-3000:] + cluster.pods.logs()
    answer = json.loads(done.stdout.splitlines()[-1])
    assert answer["statuses"] == {f"{who} {method} {path}": 401 for who in ("anonymous", "wrong password")
                                  for method, path in PROBED}
    assert answer["loopback port"] == "refused"
    assert answer["taskmanagers"] == 2
    job = answer["job"]
    assert job["state"] == "RUNNING", f"the job failed on every attempt: {job['failures']}"
    assert job["running_tasks"] == job["parallelism"] >= 4
    assert job["slots_available"] == 0  # the job spans both TaskManagers
    TIMINGS[f"job attempts {cluster.version}"] = len(job["failures"]) + 1
    # Every request went through the sidecar, from the TaskManager pod's address; the log names the user only.
    sidecar = cluster.jobmanager.container("rest-proxy")
    access = sidecar.logs(tail=10**7)
    assert f'{taskmanager.ip} - - ' in access and '"POST /jars/upload HTTP/1.1" 401' in access
    assert f'{taskmanager.ip} - flink [' in access and '"POST /jars/upload HTTP/1.1" 200' in access
    # The password is in no container's environment or log and not in the ConfigMap.
    for pod in cluster.pods.pods:
        for container in pod.containers:
            assert REST_PASSWORD not in container.logs(tail=10**7), f"{pod.name}/{container.name} log"
            if not container.init:
                assert not any(REST_PASSWORD in v for v in container.environ().values()), container.name
    assert REST_PASSWORD not in json.dumps(cluster.run.one("kubernetes:core/v1:ConfigMap").state())


def test_the_proxy_runs_as_its_manifest_says(cluster: Booted) -> None:
    """The sidecar as a kubelet starts it: the rendered command with Debian's nginx at the image's path,
    uid/gid 101 without capabilities, the Secret volume read-only."""
    sidecar = cluster.jobmanager.container("rest-proxy")
    # nginx rewrites its title to "nginx: master process <argv…>".
    assert " ".join(proxy.proxy_command()) in " ".join(sidecar.cmdline())
    status = _status(sidecar.pid)
    assert status["Uid"].split() == ["101"] * 4 and status["Gid"].split() == ["101"] * 4
    assert status["NoNewPrivs"] == "1" and int(status["CapEff"], 16) == int(status["CapBnd"], 16) == 0
    mounts = {fields[4]: fields[5].split(",") for fields in
              (line.split() for line in open(f"/proc/{sidecar.pid}/mountinfo").read().splitlines())}  # noqa: SIM115
    assert "ro" in mounts[proxy.CONF_DIR] and "rw" in mounts[proxy.TMP_DIR]
    # The key is there for nginx, and not in the Flink container's filesystem at all.
    assert sidecar.path(f"{proxy.CONF_DIR}/{proxy.KEY_FILE}").read_text().startswith("-----BEGIN PRIVATE KEY")
    assert not cluster.jobmanager.container().path(proxy.CONF_DIR).exists()


def _status(pid: int) -> dict[str, str]:
    lines = open(f"/proc/{pid}/status").read().splitlines()  # noqa: SIM115 - tiny file
    return {k: v.strip() for k, v in (line.split(":", 1) for line in lines)}


def test_the_start_path_is_the_manifests_and_values_arrive_unchanged(cluster: Booted) -> None:
    name, text = rendered_config(cluster.run)
    for pod in cluster.pods.pods:
        container = pod.container()
        argv = container.cmdline()
        # jobmanager.sh/taskmanager.sh exec'd Java themselves: the process is Flink's entrypoint class.
        assert argv[0] == "/opt/java/openjdk/bin/java"
        main = ("org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"
                if pod.deployment == "flink-jobmanager" else "org.apache.flink.runtime.taskexecutor.TaskManagerRunner")
        assert main in argv and argv[argv.index("--configDir") + 1] == "/opt/flink/conf"
        status = _status(container.pid)
        assert status["Uid"].split() == ["9999"] * 4 and status["Gid"].split() == ["9999"] * 4
        assert status["Groups"] == "9999" and status["NoNewPrivs"] == "1"
        assert int(status["CapEff"], 16) == int(status["CapBnd"], 16) == int(status["CapPrm"], 16) == 0
        # The configuration Flink reads is the rendered one, byte for byte (nothing rewrote it), 0600.
        merged = container.path(f"/opt/flink/conf/{name}")
        stat = merged.stat()
        assert (stat.st_uid, stat.st_mode & 0o777) == (9999, 0o600)
        assert merged.read_text() == text
        env = container.environ()
        assert "FLINK_PROPERTIES" not in env and "ENABLE_BUILT_IN_PLUGINS" not in env
        # The job's own login arrives exactly as the Secret holds it; the admin password (a sentinel with
        # `$`, spaces and `*`) reaches no pod at all (issue 12: least privilege).
        secret = cluster.run.one("kubernetes:core/v1:Secret", "flink-env").plain()["stringData"]
        unchanged = env.get("HOLO_ACCESS_KEY") == secret["HOLO_ACCESS_KEY"]
        assert unchanged, "the secret env value changed on its way into the pod"
        assert not any(SENTINEL in value for value in env.values()), "the admin password reached a pod"
        assert env["FLINK_JOBMANAGER_SERVICE_HOST"] == cluster.jobmanager.ip  # service links, as kubelet sets
        # The image's own plugins stay available next to the ones the init container adds.
        link = os.readlink(container.path("/opt/flink/pod-plugins/metrics-prometheus"))
        assert link == "/opt/flink/plugins/metrics-prometheus" and list(container.path(link).glob("*.jar"))


def _ha_requests(version: str, flink_config: dict[str, str] | None = None) -> tuple[list[str], list[str], str]:
    """Boot the HA JobManager pod against the API recorder: (request paths, its Java argv, its pod IP)."""
    run = run_program({**KUBECONFIG, "flinkImage": IMAGES[version], "namespace": "team-flink",
                       "stateStorage": "file:///tmp/flink-state", "highAvailability": "kubernetes",
                       "flinkConfig": flink_config or {}}, secrets=SECRETS)
    assert run.error is None, run.raw
    recorder = ApiRecorder()
    pods = PodCluster(kubernetes_objects(run), version=version, deployments=["flink-jobmanager"],
                      api_server=recorder.api_server)
    try:
        pods.start(recorder.listen)
        jobmanager = pods.pods[0]
        started, argv = time.monotonic(), []
        while not (recorder.requests and argv) and time.monotonic() - started < HA_TIMEOUT_S:
            if jobmanager.container().running():
                command = jobmanager.container().cmdline()
                argv = command if any(a.endswith(".StandaloneSessionClusterEntrypoint") for a in command) else argv
            time.sleep(0.2)
    finally:
        pods.stop()
        recorder.close()
    paths = [path for _, path in recorder.requests]
    assert paths, f"Flink made no Kubernetes API request:\n{pods.logs()[-3000:]}"
    assert argv, "the JobManager's Java process was never seen"
    return paths, argv, jobmanager.ip


@pytest.mark.parametrize("version", sorted(IMAGES))
def test_ha_addresses_the_pods_namespace(version: str) -> None:
    paths, argv, pod_ip = _ha_requests(version)
    assert all(path.startswith("/api/v1/namespaces/team-flink/") for path in paths), paths
    # $(POD_IP) expanded: jobmanager.sh passed the pod IP on as the address the JobManager advertises
    # (1.x as `--host <ip>`, 2.x as `-D jobmanager.rpc.address=<ip>`).
    advertised = (argv[argv.index("--host") + 1] if "--host" in argv else
                  [a.split("=", 1)[1] for a in argv if a.startswith("jobmanager.rpc.address=")][-1])
    assert advertised == pod_ip


def test_without_the_namespace_option_flink_addresses_default() -> None:
    """The old rendering's failure, seen by the same recorder: Flink's own default is `default`, where the
    program's Role does not apply (here forced through flinkConfig, which overrides the rendered option)."""
    paths, _, _ = _ha_requests("1.20", {"kubernetes.namespace": "default"})
    assert all(path.startswith("/api/v1/namespaces/default/") for path in paths), paths


def test_the_oss_access_key_is_merged_into_a_0600_config_and_masked_by_flink() -> None:
    """Target ack (the dev stack): the RAM user's AccessKey reaches Flink's effective config through the
    Secret's file key and the init container, never env, and Flink's REST API masks it."""
    from tests.harness.alicloud_mocks import ACCESS_KEY_SECRET
    from tests.harness.flink import flink_home

    run = run_program({}, secrets=SECRETS)
    assert run.error is None, run.raw
    # The libraries package has no file-system plugins; a real plugin jar of the distribution stands in
    # for the image's opt/flink-oss-fs-hadoop-<version>.jar, under another patch release than the image's.
    stand_in = next((flink_home("1.20") / "plugins" / "metrics-slf4j").glob("*.jar"))
    pods = PodCluster(kubernetes_objects(run), version="1.20", deployments=["flink-jobmanager"],
                      extra_opt={"flink-oss-fs-hadoop-1.20.9.jar": stand_in})
    try:
        pods.start()
        jobmanager = pods.pods[0]
        container = jobmanager.container()
        pods.wait_for("the REST API", lambda: flink_get(pods, jobmanager, "/overview").ok, BOOT_TIMEOUT_S)
        merged = container.path("/opt/flink/conf/config.yaml")
        stat = merged.stat()
        assert (stat.st_uid, stat.st_mode & 0o777) == (9999, 0o600)
        effective = read_config_file({"config.yaml": merged.read_text()})
        unchanged = effective.get("fs.oss.accessKeySecret") == ACCESS_KEY_SECRET
        assert unchanged, "the OSS AccessKey secret changed on its way into Flink's config"
        assert not container.path("/opt/flink/secret-options").exists()  # only the init container mounts it
        assert all(ACCESS_KEY_SECRET not in value for value in container.environ().values())
        served = flink_get(pods, jobmanager, "/jobmanager/config")
        assert ACCESS_KEY_SECRET not in served.text
        masked = {e["key"]: e["value"] for e in served.json()}["fs.oss.accessKeySecret"]
        assert masked == "******"
        link = os.readlink(container.path("/opt/flink/pod-plugins/flink-oss-fs-hadoop/flink-oss-fs-hadoop-1.20.9.jar"))
        assert link == "/opt/flink/opt/flink-oss-fs-hadoop-1.20.9.jar"
        assert "flink-oss-fs-hadoop" in container.logs(tail=10**7)  # Flink's plugin manager loaded the directory
    finally:
        pods.stop()
