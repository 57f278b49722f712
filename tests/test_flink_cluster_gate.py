"""ClusterReady through pulumi's own provider host against a real Flink: `up` fails in one line while
TaskManagers are missing, passes once every one registered, and waits for nothing in preview."""

from __future__ import annotations

import time
from typing import Any

import pytest

from components.flink_cluster_gate import ClusterReadyArgs, ClusterReadyProvider
from tests.harness import free_port
from tests.harness.engine import Engine
from tests.harness.flink import FlinkCluster
from tests.harness.flink_jobs import SHARED_SLOTS, SharedClusters
from tests.harness.program import SECRET_SIG, SECRET_VALUE, run_program
from tests.harness.provider_host import UNKNOWN, ProviderError, ProviderHost, resource_inputs
from tests.test_program_flink import KUBECONFIG, SECRETS


def gate_inputs(rest_url: str, *, taskmanagers: int, slots: int, deadline: float = 3,
                checksum: str = "c1") -> dict[str, Any]:
    args = ClusterReadyArgs(rest_url=rest_url, namespace="team-ns", jobmanager_deployment="flink-jobmanager",
                            taskmanager_deployment="flink-taskmanager", expected_taskmanagers=taskmanagers,
                            expected_slots=slots, config_checksum=checksum, deadline_seconds=deadline)
    props = {key: getattr(args, key) for key in ("rest_url", "namespace", "jobmanager_deployment",
                                                 "taskmanager_deployment", "expected_taskmanagers",
                                                 "expected_slots", "config_checksum", "deadline_seconds")}
    return resource_inputs(ClusterReadyProvider(), props)


@pytest.fixture
def flink(flink_clusters: SharedClusters) -> FlinkCluster:
    return flink_clusters.get("2.2")  # one TaskManager with SHARED_SLOTS slots


@pytest.mark.flink
def test_up_fails_in_one_line_while_taskmanagers_are_missing(flink: FlinkCluster,
                                                             provider_host: ProviderHost) -> None:
    started = time.monotonic()
    with pytest.raises(ProviderError) as failure:
        Engine(provider_host).up("gate", gate_inputs(flink.rest_url, taskmanagers=2, slots=2 * SHARED_SLOTS))
    assert failure.value.last_line.endswith(
        f"1 of 2 TaskManagers registered ({SHARED_SLOTS} of {2 * SHARED_SLOTS} slots) at {flink.rest_url} "
        "after 3s; look at `kubectl -n team-ns logs deploy/flink-taskmanager`")
    assert time.monotonic() - started < 20


@pytest.mark.flink
def test_up_passes_when_every_taskmanager_registered_and_a_roll_waits_again(flink: FlinkCluster,
                                                                             provider_host: ProviderHost) -> None:
    news = gate_inputs(flink.rest_url, taskmanagers=1, slots=SHARED_SLOTS)
    engine = Engine(provider_host)
    state = engine.up("gate", news)
    assert engine.last_calls == ["check", "create"]
    assert (state.outputs["taskmanagers"], state.outputs["slots_total"]) == (1, SHARED_SLOTS)
    assert state.outputs["flink_version"].startswith("2.2")
    engine.up("gate", news)
    assert engine.last_calls == ["check", "diff"]  # nothing changed: no wait
    # A new config checksum rolls the pods: the gate asks Flink again (and fails if it is short now).
    rolled = gate_inputs(flink.rest_url, taskmanagers=2, slots=2 * SHARED_SLOTS, checksum="c2", deadline=1)
    with pytest.raises(ProviderError, match="1 of 2 TaskManagers registered"):
        engine.up("gate", rolled)
    assert engine.state("gate") == state  # a failed update keeps the state of the last good wait


def test_an_unreachable_rest_api_names_the_jobmanager_logs(provider_host: ProviderHost) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ProviderError) as failure:
        Engine(provider_host).up("gate", gate_inputs(url, taskmanagers=2, slots=4, deadline=1))
    assert failure.value.last_line.endswith(
        f"the Flink REST API at {url} did not answer within 1s (connection refused); "
        "look at `kubectl -n team-ns logs deploy/flink-jobmanager`")


def test_preview_accepts_unknowns_and_waits_for_nothing(provider_host: ProviderHost) -> None:
    news = {**gate_inputs("http://unused:8081", taskmanagers=2, slots=4), "rest_url": UNKNOWN,
            "config_checksum": UNKNOWN}
    started = time.monotonic()
    checked = provider_host.check({}, news)
    assert checked.failures == []
    old = {**gate_inputs("http://old:8081", taskmanagers=2, slots=4)}
    assert provider_host.diff("team-ns/flink-taskmanager", old, news).changes == "some"
    assert time.monotonic() - started < 5


def test_bad_inputs_fail_check_naming_the_property(provider_host: ProviderHost) -> None:
    checked = provider_host.check({}, gate_inputs("flink:8081", taskmanagers=0, slots=4))
    assert [prop for prop, _ in checked.failures] == ["rest_url", "expected_taskmanagers"]


def _gate(run: Any) -> Any:
    return [r for r in run.resources if r.type == "pulumi-python:dynamic/flink:ClusterReady"]


def test_the_program_declares_the_gate_after_the_pods_when_flink_is_reachable() -> None:
    run = run_program({**KUBECONFIG, "flinkRestUrl": "http://flink.example:8081", "taskManagers": "3"},
                      secrets=SECRETS)
    assert run.error is None, run.raw
    (gate,) = _gate(run)
    inputs = gate.plain()
    # Through the authenticating REST proxy (on by default): TLS with the pinned CA and basic auth.
    assert (inputs["rest_url"], inputs["expected_taskmanagers"], inputs["expected_slots"]) == (
        "https://flink.example:8081", 3, 6)
    assert inputs["rest_ca_pem"] and inputs["rest_user"] and gate.inputs["rest_password"][SECRET_SIG] == SECRET_VALUE
    assert inputs["namespace"] == "flink" and len(inputs["config_checksum"]) == 64
    for name in ("flink-jobmanager", "flink-taskmanager", "flink-jobmanager-service", "flink-rest-service"):
        assert any(d.endswith(f"::{name}") for d in gate.dependencies), name
    # No REST URL this machine reaches (a ClusterIP Service): nothing can ask Flink, so no gate.
    assert _gate(run_program(KUBECONFIG, secrets=SECRETS)) == []


def test_preview_of_a_load_balancer_declares_the_gate_with_an_unknown_url() -> None:
    run = run_program({**KUBECONFIG, "restServiceType": "LoadBalancer"}, secrets=SECRETS, preview=True)
    assert run.error is None, run.raw
    (gate,) = _gate(run)
    assert gate.inputs.get("rest_url") in (None, UNKNOWN)
