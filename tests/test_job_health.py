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
from tests.harness.engine import Engine, State
from tests.harness.flink import FlinkCluster
from tests.harness.flink_jobs import SharedClusters, cancel_all_jobs
from tests.harness.java import COUNTING_JOB, FLAKY_JOB
from tests.harness.provider_host import ProviderHost
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


def refresh_until(engine: Engine, name: str, done: Any, timeout: float) -> tuple[State, str]:
    """`pulumi refresh` until `done(outputs)`; the refreshed state and the drift refresh showed ("none"/"some")."""
    deadline = time.monotonic() + timeout
    while True:
        refreshed = engine.refresh(name)
        assert refreshed.state is not None and refreshed.diff is not None, "the job vanished"
        if done(refreshed.state.outputs):
            return refreshed.state, refreshed.diff.changes
        assert time.monotonic() < deadline, f"health never got there: {refreshed.state.outputs.get(health.HEALTH)}"
        time.sleep(1)


def test_refresh_fills_health_and_a_forced_restart_is_drift_until_up(
        flink: FlinkCluster, provider_host: ProviderHost, tmp_path: Path) -> None:
    name = "health"
    marker = tmp_path / "failed-once"
    news = job_inputs(flink, name, entry_class=FLAKY_JOB, args=[str(marker), "15000"], parallelism=1,
                      flink_configuration=CHECKPOINT_EVERY_SECOND, upgrade_mode="stateless")
    engine = Engine(provider_host)
    outs = engine.up(name, news).outputs
    assert outs[health.HEALTH] == health.HEALTHY
    assert outs[health.RESTARTS] == 0 and outs[health.RESTARTS_BASELINE] == 0
    assert outs.get(health.LAST_FAILURE) is None
    assert outs["job_ui_url"].endswith(f"/#/job/running/{outs['job_id']}/overview")

    # A refresh while it runs: uptime grows, a checkpoint completed, nothing to change.
    # (The REST metric store fetches a new job's metrics within metrics.fetcher.update-interval, 10 s.)
    refreshed, drift = refresh_until(engine, name, lambda o: o.get(health.LAST_CHECKPOINT_TIME)
                                     and o.get(health.RESTARTS) is not None, 30)
    o = refreshed.outputs
    assert o["state"] == "RUNNING" and o[health.HEALTH] == health.HEALTHY
    assert 0 < o[health.UPTIME] < 60
    assert 0 <= o[health.LAST_CHECKPOINT_AGE] < 30
    assert o[health.LAST_CHECKPOINT_SIZE] > 0
    assert o[health.RESTARTS] == 0
    assert drift == "none"

    # The job fails once (after 15 s of work) and restarts: the count grows, the root cause is named, diff says drift.
    # (While it restarts, the verdict names the state too: "unhealthy: state RESTARTING; restarted …".)
    refreshed, drift = refresh_until(engine, name,
                                     lambda o: (o.get(health.RESTARTS) or 0) >= 1 and o["state"] == "RUNNING",
                                     RESTART_VISIBLE_S)
    assert marker.exists()
    o = refreshed.outputs
    assert o["state"] == "RUNNING" and o[health.RESTARTS] == 1 and o[health.RESTARTS_BASELINE] == 0
    assert o[health.LAST_FAILURE] == "java.lang.IllegalStateException: flaky: the test job fails once on purpose"
    assert o[health.HEALTH].startswith("unhealthy: restarted 1 time(s) since the last pulumi up")
    assert "flaky: the test job fails once on purpose" in o[health.HEALTH]
    assert drift == "some"  # what `pulumi preview --refresh --expect-no-changes` fails on
    # A second refresh keeps the verdict (the baseline is the last up's, not the last refresh's).
    again = engine.refresh(name)
    assert again.state is not None and health.drifted(again.state.outputs) and again.drift

    # `pulumi up` acknowledges it: an in-place update that keeps the job and re-baselines the count.
    upped = engine.up(name, news)
    assert engine.last_calls == ["check", "diff", "update"]
    assert upped.outputs["job_id"] == outs["job_id"]
    assert upped.outputs[health.HEALTH] == health.HEALTHY
    assert upped.outputs[health.RESTARTS_BASELINE] == 1
    engine.up(name, news)
    assert engine.last_calls == ["check", "diff"]


def test_a_checkpointing_job_without_recent_checkpoints_is_drift(
        flink: FlinkCluster, provider_host: ProviderHost, tmp_path: Path) -> None:
    engine = Engine(provider_host)
    # Checkpointing on, but hourly: with a 2 s limit the job is overdue once it has run 2 s. A job that
    # does not checkpoint at all has no checkpoint age to be unhealthy about.
    stale = job_inputs(flink, "stale", entry_class=COUNTING_JOB, args=[str(tmp_path / "out"), "stale", "4", "2"],
                       parallelism=1, max_checkpoint_age_seconds=2,
                       flink_configuration={"execution.checkpointing.interval": "1 h"})
    plain = job_inputs(flink, "plain", entry_class=COUNTING_JOB, args=[str(tmp_path / "out2"), "plain", "4", "2"],
                       parallelism=1, max_checkpoint_age_seconds=2)
    assert engine.up("stale", stale).outputs.get(health.LAST_CHECKPOINT_TIME) is None
    engine.up("plain", plain)
    time.sleep(3)
    refreshed = engine.refresh("stale")
    assert refreshed.state is not None
    verdict = refreshed.state.outputs[health.HEALTH]
    assert verdict.startswith("unhealthy: no completed checkpoint in ") and "(max 2s)" in verdict
    assert refreshed.drift
    unchecked = engine.refresh("plain")
    assert unchecked.state is not None and unchecked.state.outputs[health.HEALTH] == health.HEALTHY
    assert not unchecked.drift
