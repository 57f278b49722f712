"""Durable state and Kubernetes HA under the Pulumi SDK mocks (target kubeconfig with a URI)."""

from __future__ import annotations

import pytest

from tests.harness.program import ProgramRun, run_program
from tests.test_program_flink import KUBECONFIG, SECRETS

HA = {**KUBECONFIG, "stateStorage": "s3://team-bucket/flink", "highAvailability": "kubernetes",
      "flinkImage": "flink:1.20.3-java17"}


@pytest.fixture(scope="module")
def ha() -> ProgramRun:
    run = run_program(HA, secrets=SECRETS)
    assert run.error is None, run.raw
    return run


def _config_text(run: ProgramRun) -> str:
    data = run.one("kubernetes:core/v1:ConfigMap").state()["data"]
    return str(next(text for name, text in data.items() if name.endswith(".yaml")))


def _pod(run: ProgramRun, name: str) -> dict:  # type: ignore[type-arg]
    return run.by_name(name).state()["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def test_ha_rbac_is_limited_to_configmaps_with_exact_verbs(ha: ProgramRun) -> None:
    role = ha.one("kubernetes:rbac.authorization.k8s.io/v1:Role").state()
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                              "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}]
    binding = ha.one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding").state()
    account = ha.one("kubernetes:core/v1:ServiceAccount").state()["metadata"]["name"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": "flink"}]
    for deployment in ("flink-jobmanager", "flink-taskmanager"):
        pod = _pod(ha, deployment)
        assert pod["serviceAccountName"] == account
        assert "automountServiceAccountToken" not in pod
        # The Deployments wait for their RBAC.
        assert binding and any(d.endswith("RoleBinding::flink-ha-role-binding")
                               for d in ha.by_name(deployment).dependencies)


def test_jobmanager_advertises_its_pod_ip(ha: ProgramRun) -> None:
    container = _pod(ha, "flink-jobmanager")["containers"][0]
    # jobmanager.sh's second argument is the host it advertises (passed on as --host).
    assert container["command"] == ["/opt/flink/bin/jobmanager.sh"]
    assert container["args"] == ["start-foreground", "$(POD_IP)"]
    pod_ip = next(e for e in container["env"] if e["name"] == "POD_IP")
    assert pod_ip["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"


def test_ha_and_state_options_and_plugin(ha: ProgramRun) -> None:
    text = _config_text(ha)
    for line in ("high-availability.type: kubernetes", "kubernetes.cluster-id: flink-hologres",
                 "high-availability.storageDir: s3://team-bucket/flink/ha",
                 "state.checkpoints.dir: s3://team-bucket/flink/checkpoints",
                 "state.savepoints.dir: s3://team-bucket/flink/savepoints",
                 "restart-strategy.type: exponential-delay",
                 "kubernetes.namespace: flink"):  # the pods' namespace, where the Role applies
        assert line in text
    # The plugin comes from the image's opt/ by pattern: any patch release of the image works.
    script = _pod(ha, "flink-taskmanager")["initContainers"][0]["command"][2]
    assert "set -- /opt/flink/opt/flink-s3-fs-presto-*.jar" in script
    assert "ENABLE_BUILT_IN_PLUGINS" not in str(_pod(ha, "flink-taskmanager"))


def test_a_plugin_needs_no_patch_release_in_the_image_tag() -> None:
    run = run_program({**KUBECONFIG, "stateStorage": "oss://b/flink", "flinkImage": "flink:1.20-java17"},
                      secrets=SECRETS)
    assert run.error is None, run.raw


def test_without_ha_pods_get_no_api_token_and_no_rbac() -> None:
    run = run_program(KUBECONFIG, secrets=SECRETS)
    assert run.of_type("kubernetes:rbac.authorization.k8s.io/v1:Role") == []
    assert _pod(run, "flink-jobmanager")["automountServiceAccountToken"] is False


def test_flink_2_uses_its_own_option_names() -> None:
    run = run_program({**HA, "flinkImage": "flink:2.2.0-java17"}, secrets=SECRETS)
    text = _config_text(run)
    assert "execution.checkpointing.dir: s3://team-bucket/flink/checkpoints" in text
    assert "execution.checkpointing.savepoint-dir: s3://team-bucket/flink/savepoints" in text
    assert "state.checkpoints.dir" not in text


@pytest.mark.parametrize(("config", "key", "hint"), [
    ({"highAvailability": "kubernetes", "stateStorage": None}, "highAvailability", "stateStorage"),
    ({"stateStorage": "bucket/flink"}, "stateStorage", "not a URI"),
    ({"stateStorage": "ftp://host/flink"}, "stateStorage", "not a file system"),
    ({"stateStorage": "oss"}, "stateStorage", "only target ack"),
    ({"highAvailability": "zookeeper"}, "highAvailability", "not one of"),
])
def test_bad_state_settings(config: dict[str, object], key: str, hint: str) -> None:
    run = run_program({**KUBECONFIG, **config}, secrets=SECRETS)
    assert run.error_type == "ConfigError", run.raw
    assert run.error is not None and run.error.startswith(f"config '{key}'") and hint in run.error
    assert run.resources == []
