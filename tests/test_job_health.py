"""Job health in the FlinkJob's outputs, through pulumi's own provider host against real Flink (1.20, 2.2):
`read` (pulumi refresh) fills state, uptime, restarts, the last checkpoint and the last failure; a forced
restart grows the count, names the root cause and makes `diff` report drift, which `up` re-baselines."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components import flink_job_health as health
from tests.harness.flink import FlinkCluster
from tests.harness.flink_jobs import SharedClusters, cancel_all_jobs
from tests.harness.java import COUNTING_JOB, FLAKY_JOB
from tests.harness.provider_host import ProviderHost, ResourceState, engine_refresh, engine_up
from tests.test_flink_job import job_inputs

pytestmark = pytest.mark.flink

CHECKPOINT_EVERY_SECOND = {"execution.checkpointing.interval": "1 s", "restart-strategy.type": "fixed-delay",
                           "restart-strategy.fixed-delay.attempts": "10",
                           "restart-strategy.fixed-delay.delay": "1 s"}
# Flink's REST metric store refreshes every metrics.fetcher.update-interval (10 s): a restart shows within it.
RESTART_VISIBLE_S = 45.0


@pytest.fixture(params=["1.20", "2.2"])
def flink(request: pytest.FixtureRequest, flink_clusters: SharedClusters) -> Iterator[FlinkCluster]:
    cluster = flink_clusters.get(request.param)
    yield cluster
    cancel_all_jobs(cluster.rest_url)


def refresh_until(host: ProviderHost, state: ResourceState, name: str, done: Any, timeout: float) -> ResourceState:
    deadline = time.monotonic() + timeout
    while True:
        refreshed = engine_refresh(host, state, name)
        assert refreshed is not None, "the job vanished"
        if done(refreshed.outputs):
            return refreshed
        assert time.monotonic() < deadline, f"health never got there: {refreshed.outputs.get(health.HEALTH)}"
        time.sleep(1)


def preview_after_refresh(host: ProviderHost, refreshed: ResourceState, name: str) -> str:
    """What `pulumi preview --refresh` decides after the read: Diff of the refreshed outputs and the inputs."""
    return host.diff(refreshed.id, refreshed.outputs, refreshed.inputs, name, old_inputs=refreshed.inputs).changes


def test_refresh_fills_health_and_a_forced_restart_is_drift_until_up(
        flink: FlinkCluster, provider_host: ProviderHost, tmp_path: Path) -> None:
    name = "health"
    marker = tmp_path / "failed-once"
    news = job_inputs(flink, name, entry_class=FLAKY_JOB, args=[str(marker), "15000"], parallelism=1,
                      flink_configuration=CHECKPOINT_EVERY_SECOND, upgrade_mode="stateless")
    state = engine_up(provider_host, name, news)
    outs = state.outputs
    assert outs[health.HEALTH] == health.HEALTHY
    assert outs[health.RESTARTS] == 0 and outs[health.RESTARTS_BASELINE] == 0
    assert outs.get(health.LAST_FAILURE) is None
    assert outs["job_ui_url"].endswith(f"/#/job/running/{outs['job_id']}/overview")

    # A refresh while it runs: uptime grows, a checkpoint completed, nothing to change.
    # (The REST metric store fetches a new job's metrics within metrics.fetcher.update-interval, 10 s.)
    refreshed = refresh_until(provider_host, state, name, lambda o: o.get(health.LAST_CHECKPOINT_TIME)
                              and o.get(health.RESTARTS) is not None, 30)
    o = refreshed.outputs
    assert o["state"] == "RUNNING" and o[health.HEALTH] == health.HEALTHY
    assert 0 < o[health.UPTIME] < 60
    assert 0 <= o[health.LAST_CHECKPOINT_AGE] < 30
    assert o[health.LAST_CHECKPOINT_SIZE] > 0
    assert o[health.RESTARTS] == 0
    assert preview_after_refresh(provider_host, refreshed, name) == "none"

    # The job fails once (after 15 s of work) and restarts: the count grows, the root cause is named, diff says drift.
    # (While it restarts, the verdict names the state too: "unhealthy: state RESTARTING; restarted …".)
    refreshed = refresh_until(provider_host, refreshed, name,
                              lambda o: (o.get(health.RESTARTS) or 0) >= 1 and o["state"] == "RUNNING",
                              RESTART_VISIBLE_S)
    assert marker.exists()
    o = refreshed.outputs
    assert o["state"] == "RUNNING" and o[health.RESTARTS] == 1 and o[health.RESTARTS_BASELINE] == 0
    assert o[health.LAST_FAILURE] == "java.lang.IllegalStateException: flaky: the test job fails once on purpose"
    assert o[health.HEALTH].startswith("unhealthy: restarted 1 time(s) since the last pulumi up")
    assert "flaky: the test job fails once on purpose" in o[health.HEALTH]
    assert preview_after_refresh(provider_host, refreshed, name) == "some"
    # A second refresh keeps the verdict (the baseline is the last up's, not the last refresh's).
    again = engine_refresh(provider_host, refreshed, name)
    assert again is not None and health.drifted(again.outputs)

    # `pulumi up` acknowledges it: an in-place update that keeps the job and re-baselines the count.
    upped = engine_up(provider_host, name, news, again)
    assert upped.steps == ["check", "diff", "update"]
    assert upped.outputs["job_id"] == outs["job_id"]
    assert upped.outputs[health.HEALTH] == health.HEALTHY
    assert upped.outputs[health.RESTARTS_BASELINE] == 1
    assert engine_up(provider_host, name, news, upped).steps == ["check", "diff"]


def test_a_job_without_recent_checkpoints_is_drift_when_a_max_age_is_set(
        flink: FlinkCluster, provider_host: ProviderHost, tmp_path: Path) -> None:
    name = "stale"
    # No checkpointing configured: with a 2 s limit, the job is overdue once it has run 2 s.
    news = job_inputs(flink, name, entry_class=COUNTING_JOB, args=[str(tmp_path / "out"), "stale", "4", "2"],
                      parallelism=1, max_checkpoint_age_seconds=2)
    state = engine_up(provider_host, name, news)
    assert state.outputs.get(health.LAST_CHECKPOINT_TIME) is None
    time.sleep(3)
    refreshed = engine_refresh(provider_host, state, name)
    assert refreshed is not None
    verdict = refreshed.outputs[health.HEALTH]
    assert verdict.startswith("unhealthy: no completed checkpoint in ") and "(max 2s)" in verdict
    assert preview_after_refresh(provider_host, refreshed, name) == "some"
