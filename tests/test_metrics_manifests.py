"""Metrics under the SDK mocks: the Prometheus reporter on both Deployments (named port, scrape
annotations, reporter options), never in a Service, the PodMonitor only when asked; schema-valid."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from components import flink_metrics
from tests.harness import REPO_ROOT
from tests.harness.program import ProgramRun, run_program
from tests.test_k8s_manifests import KUBERNETES_VERSION, kubernetes_objects
from tests.test_program_flink import KUBECONFIG, SECRETS

POD_MONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
# The PodMonitor CRD's own schema (prometheus-operator, commit in its $comment).
POD_MONITOR_SCHEMA = REPO_ROOT / "tests" / "data" / "podmonitor-v1.schema.json"

SCENARIOS: dict[str, dict[str, Any]] = {
    "kubeconfig-clusterip": KUBECONFIG,
    "kubeconfig-nodeport": {**KUBECONFIG, "restServiceType": "NodePort"},
    "kubeconfig-loadbalancer-pod-monitor": {**KUBECONFIG, "restServiceType": "LoadBalancer", "podMonitor": "true"},
    "flink-1.18-nodeport-moved-port": {**KUBECONFIG, "flinkImage": "flink:1.18.1-java17",
                                       "restServiceType": "NodePort", "metricsPort": "9300"},
    "ack-internet-eci-pod-monitor": {"uiAccess": "internet", "uiAllowedCidrs": ["203.0.113.0/24"],
                                     "clusterProfile": "Serverless", "eciUseSpecs": ["ecs.c6.large"],
                                     "podMonitor": "true"},
    "ack-acs": {"clusterProfile": "Acs"},
}


def _port(config: dict[str, Any]) -> int:
    return int(config.get("metricsPort", flink_metrics.DEFAULT_METRICS_PORT))


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def scenario(request: pytest.FixtureRequest) -> tuple[dict[str, Any], ProgramRun]:
    run = run_program(SCENARIOS[request.param], secrets=SECRETS)
    assert run.error is None, run.raw
    return SCENARIOS[request.param], run


def _of_kind(run: ProgramRun, kind: str) -> list[dict[str, Any]]:
    return [o for o in kubernetes_objects(run) if o["kind"] == kind]


def test_both_deployments_expose_a_named_metrics_port_with_scrape_annotations(scenario: Any) -> None:
    config, run = scenario
    port = _port(config)
    deployments = _of_kind(run, "Deployment")
    assert {d["metadata"]["name"] for d in deployments} == {"flink-jobmanager", "flink-taskmanager"}
    for deployment in deployments:
        template = deployment["spec"]["template"]
        container = template["spec"]["containers"][0]
        assert {"name": "metrics", "containerPort": port, "protocol": "TCP"} in container["ports"]
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(port)
        assert annotations["prometheus.io/path"] == "/metrics"
        assert annotations["checksum/config"]  # the roll-on-change checksum survives the merge
        if "eciUseSpecs" in config:  # the cloud's pod annotations survive too
            assert annotations["k8s.aliyun.com/eci-use-specs"] == "ecs.c6.large"


def test_the_rendered_configuration_turns_the_reporter_on(scenario: Any) -> None:
    config, run = scenario
    data = _of_kind(run, "ConfigMap")[0]["data"]
    text = next(content for name, content in data.items() if name.endswith(".yaml"))
    assert "metrics.reporter.prom.factory.class: org.apache.flink.metrics.prometheus.PrometheusReporterFactory" in text
    assert f"metrics.reporter.prom.port: '{_port(config)}'" in text or \
        f"metrics.reporter.prom.port: {_port(config)}" in text
    assert "metrics.reporter.prom.scope.variables.excludes: task_attempt_id;task_attempt_num" in text


def test_no_service_carries_the_metrics_port(scenario: Any) -> None:
    """Whatever the SLB, a LoadBalancer or a NodePort exposes, the metrics port is not in it."""
    config, run = scenario
    port = _port(config)
    services = _of_kind(run, "Service")
    assert len(services) >= 2
    exposed = 0
    for service in services:
        exposed += service["spec"]["type"] in ("NodePort", "LoadBalancer")
        for service_port in service["spec"]["ports"]:
            assert service_port["port"] != port, service["metadata"]["name"]
            assert service_port["targetPort"] not in ("metrics", port), service["metadata"]["name"]
            assert service_port.get("name") != "metrics"
    if config.get("restServiceType") in ("NodePort", "LoadBalancer") or "target" not in config:
        assert exposed >= 1  # the scenario really has an exposed Service to check


def test_the_pod_monitor_exists_only_when_asked_and_selects_both_pods(scenario: Any) -> None:
    config, run = scenario
    monitors = run.of_type(POD_MONITOR)
    if config.get("podMonitor") != "true":
        assert monitors == []
        return
    assert len(monitors) == 1
    monitor = monitors[0].state()
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1" and monitor["kind"] == "PodMonitor"
    assert monitor["metadata"]["namespace"] == "flink"
    selector = monitor["spec"]["selector"]["matchLabels"]
    endpoints = monitor["spec"]["podMetricsEndpoints"]
    assert endpoints == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]
    selected = [d for d in _of_kind(run, "Deployment")
                if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
    assert len(selected) == 2
    for deployment in selected:
        names = {p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}
        assert "metrics" in names


def _strict(schema: Any) -> Any:
    """Unknown fields are errors, as with `kubectl apply --validate=strict` (server-side field validation)."""
    if isinstance(schema, dict):
        schema = {key: _strict(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema and \
                not schema.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
        return schema
    return [_strict(value) for value in schema] if isinstance(schema, list) else schema


def test_every_object_is_schema_valid_the_pod_monitor_against_its_crd(scenario: Any) -> None:
    _, run = scenario
    crd_schema = _strict(json.loads(POD_MONITOR_SCHEMA.read_text()))
    for obj in kubernetes_objects(run):
        if obj["apiVersion"] == flink_metrics.POD_MONITOR_API_VERSION:
            jsonschema.validate(obj, crd_schema)
            bad = {**obj, "spec": {**obj["spec"], "podMetricEndpoints": obj["spec"]["podMetricsEndpoints"]}}
            with pytest.raises(jsonschema.ValidationError):  # the check is real: a misspelt field fails
                jsonschema.validate(bad, crd_schema)
            continue
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']} {obj['metadata'].get('name')}: {error.message} at {list(error.path)}")


def test_metrics_port_zero_turns_everything_off() -> None:
    run = run_program({**KUBECONFIG, "metricsPort": "0"}, secrets=SECRETS)
    assert run.error is None, run.raw
    for deployment in _of_kind(run, "Deployment"):
        template = deployment["spec"]["template"]
        assert "metrics" not in {p["name"] for p in template["spec"]["containers"][0]["ports"]}
        assert not any(key.startswith("prometheus.io/") for key in template["metadata"]["annotations"])
    data = _of_kind(run, "ConfigMap")[0]["data"]
    assert not any("metrics.reporter" in content for content in data.values())
    assert run.of_type(POD_MONITOR) == []


@pytest.mark.parametrize(("config", "key", "hint"), [
    ({"metricsPort": "8081"}, "metricsPort", "pulumi config set metricsPort 9249"),
    ({"metricsPort": "70000"}, "metricsPort", "pulumi config set metricsPort 9249"),
    ({"metricsPort": "nine"}, "metricsPort", "pulumi config set metricsPort 9249"),
    ({"metricsPort": "0", "podMonitor": "true"}, "podMonitor", "pulumi config set metricsPort 9249"),
    ({"podMonitor": "yes"}, "podMonitor", "pulumi config set podMonitor false"),
    ({"jobMaxCheckpointAgeSeconds": "-5"}, "jobMaxCheckpointAgeSeconds", "jobMaxCheckpointAgeSeconds"),
])
def test_bad_metrics_settings_fail_in_one_line(config: dict[str, Any], key: str, hint: str) -> None:
    # The program's own checks; for "nine" and "yes" the CLI's type check speaks first in a real run
    # (tests/test_program_config.py), as with --skip-config-validation this is what the program says.
    run = run_program({**KUBECONFIG, **config}, secrets=SECRETS, validate_config=False)
    assert run.error_type == "ConfigError", run.raw
    assert run.error is not None and "\n" not in run.error
    assert run.error.startswith(f"config '{key}'")
    assert hint in run.error
    assert run.resources == [] or all(not r.type.startswith("kubernetes:apps") for r in run.resources)


def test_jobs_carry_the_checkpoint_age_limit_and_their_health_is_a_stack_output(tmp_path: Any) -> None:
    from tests.test_program_jobs import JOB, REST

    jar = tmp_path / "orders.jar"
    jar.write_bytes(b"not really a jar")
    run = run_program({**REST, "jobJar": str(jar), "jobMaxCheckpointAgeSeconds": "120"}, secrets=SECRETS)
    assert run.error is None, run.raw
    job = run.one(JOB).plain()
    assert job["max_checkpoint_age_seconds"] == 120
    assert "main" in run.outputs["jobHealth"]
    # One limit per job for drift and last-state upgrades, 600 s unless set (it only applies to jobs
    # that checkpoint).
    run = run_program({**REST, "jobJar": str(jar)}, secrets=SECRETS)
    assert run.one(JOB).plain().get("max_checkpoint_age_seconds") == 600
