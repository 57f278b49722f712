"""Every Kubernetes object the program declares: valid against the official OpenAPI schema, and
consistent with each other (references resolve, selectors select, ports exist)."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from tests.harness.program import ProgramRun, run_program
from tests.test_program_flink import KUBECONFIG, SECRETS

# The only env vars that are not from the Secret: image mechanics, never credentials.
NOT_SECRET_ENV = {"POD_IP", "FLINK_CONF_DIR", "FLINK_PLUGINS_DIR"}

# A current Kubernetes release; ACK and ACS offer 1.3x.
KUBERNETES_VERSION = "1.33.0"

SCENARIOS: dict[str, dict[str, Any]] = {
    "dev-kubeconfig": KUBECONFIG,
    "nodeport-like-the-tutorial": {**KUBECONFIG, "restServiceType": "NodePort"},
    "loadbalancer": {**KUBECONFIG, "restServiceType": "LoadBalancer"},
    "flink-2.2": {**KUBECONFIG, "flinkImage": "flink:2.2.0-java17"},
    "flink-1.18": {**KUBECONFIG, "flinkImage": "flink:1.18.1-java17", "taskManagers": "3"},
    "tutorial-image": {**KUBECONFIG, "flinkImage": "apache/flink:1.13.0-scala_2.11"},
    "dev-ack": {},
    "ha-s3": {**KUBECONFIG, "stateStorage": "s3://team-bucket/flink", "highAvailability": "kubernetes",
              "flinkImage": "flink:2.2.0-java17"},
    "ack-internet-acs": {"clusterProfile": "Acs", "uiAccess": "internet", "uiAllowedCidrs": ["203.0.113.0/24"]},
}


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def program(request: pytest.FixtureRequest) -> ProgramRun:
    run = run_program(SCENARIOS[request.param], secrets=SECRETS)
    assert run.error is None, run.raw
    return run


def kubernetes_objects(run: ProgramRun) -> list[dict[str, Any]]:
    """The objects as the provider sends them: inputs plus the names the provider generates."""
    return [r.state() for r in run.resources if r.type.startswith("kubernetes:")]


def test_every_object_is_valid_against_the_official_schema(program: ProgramRun) -> None:
    objects = kubernetes_objects(program)
    assert len(objects) >= 7
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']} {obj['metadata'].get('name')}: {error.message} at {list(error.path)}")


def _by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _pods(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d["spec"]["template"] for d in _by_kind(objects, "Deployment")]


def test_secret_and_config_references_resolve(program: ProgramRun) -> None:
    objects = kubernetes_objects(program)
    secrets = {s["metadata"]["name"]: set(s.get("stringData", {})) | set(s.get("data", {}))
               for s in _by_kind(objects, "Secret")}
    config_maps = {c["metadata"]["name"]: set(c["data"]) for c in _by_kind(objects, "ConfigMap")}
    references, mounted = 0, set()
    env_secrets = {env["valueFrom"]["secretKeyRef"]["name"] for pod in _pods(objects)
                   for container in pod["spec"]["containers"] for env in container.get("env", [])
                   if "secretKeyRef" in env.get("valueFrom", {})}
    for pod in _pods(objects):
        for container in pod["spec"]["containers"] + pod["spec"].get("initContainers", []):
            for env in container.get("env", []):
                if env["name"] in NOT_SECRET_ENV:
                    continue
                ref = env["valueFrom"]["secretKeyRef"]  # everything else comes from the Secret
                assert ref["key"] in secrets[ref["name"]], env
                references += 1
            volume_names = {v["name"] for v in pod["spec"]["volumes"]}
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volume_names, mount
        for volume in pod["spec"]["volumes"]:
            if "configMap" in volume:
                keys = config_maps[volume["configMap"]["name"]]
                assert {item["key"] for item in volume["configMap"]["items"]} <= keys
            if "secret" in volume:
                name = volume["secret"]["secretName"]
                items = {item["key"] for item in volume["secret"]["items"]}
                assert items <= secrets[name]
                if name in env_secrets:  # the secret Flink options: a file for the init container only
                    references += len(items)
                else:  # the REST proxy's own Secret (issue 12), mounted into the sidecar only
                    mounted.add(name)
    # Every key of the env Secret reaches both Deployments (as env, or as the init container's file).
    assert references == 2 * sum(len(keys) for name, keys in secrets.items() if name not in mounted)
    assert references >= 10


def test_selectors_select_and_target_ports_exist(program: ProgramRun) -> None:
    objects = kubernetes_objects(program)
    pods = _pods(objects)
    for deployment in _by_kind(objects, "Deployment"):
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    for service in _by_kind(objects, "Service"):
        selector = service["spec"]["selector"]
        selected = [p for p in pods if selector.items() <= p["metadata"]["labels"].items()]
        assert len(selected) == 1, service["metadata"]["name"]
        ports = {p["name"]: p["containerPort"] for c in selected[0]["spec"]["containers"] for p in c["ports"]}
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            assert target in ports or target in ports.values(), (service["metadata"]["name"], target)


def test_the_jobmanager_service_is_flinks_rpc_address(program: ProgramRun) -> None:
    objects = kubernetes_objects(program)
    data = _by_kind(objects, "ConfigMap")[0]["data"]
    config_text = next(text for name, text in data.items() if name.endswith(".yaml"))
    service_names = {s["metadata"]["name"] for s in _by_kind(objects, "Service")}
    assert "jobmanager.rpc.address: flink-jobmanager" in config_text
    assert "flink-jobmanager" in service_names
