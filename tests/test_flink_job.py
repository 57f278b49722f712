"""FlinkJob's provider, driven through pulumi's own provider host over gRPC as `pulumi up`/`refresh`/
`destroy` drive it, against real Flink session clusters (1.20 and 2.2) and real Java test jobs."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from pulumi.output import Unknown

from components.flink_job import FlinkJobArgs, FlinkJobProvider
from components.flink_job_capacity import ensure_jar
from components.flink_job_spec import spec_from
from components.flink_job_upgrade import listed_attempts
from components.flink_rest import FlinkRestClient, JobStatus, file_sha256
from tests.harness import REPO_ROOT, free_port
from tests.harness.engine import Engine, State
from tests.harness.flink import FlinkCluster
from tests.harness.flink_jobs import SharedClusters, active_jobs, cancel_all_jobs, cluster_files, jobs_jar
from tests.harness.java import COUNTING_JOB, FAILING_JOB
from tests.harness.provider_host import UNKNOWN, ProviderError, ProviderHost, resource_inputs

pytestmark = pytest.mark.flink

# A job that fails on start is restarted forever by this strategy: the provider must notice the restart.
RESTART_FOREVER = {"restart-strategy.type": "fixed-delay", "restart-strategy.fixed-delay.attempts": "1000000",
                   "restart-strategy.fixed-delay.delay": "200 ms"}


@pytest.fixture(params=["1.20", "2.2"])
def flink(request: pytest.FixtureRequest, flink_clusters: SharedClusters) -> Iterator[FlinkCluster]:
    cluster = flink_clusters.get(request.param)
    yield cluster
    cancel_all_jobs(cluster.rest_url)


@pytest.fixture
def flink22(flink_clusters: SharedClusters) -> Iterator[FlinkCluster]:
    cluster = flink_clusters.get("2.2")
    yield cluster
    cancel_all_jobs(cluster.rest_url)


def job_inputs(cluster: FlinkCluster, name: str, **overrides: Any) -> dict[str, Any]:
    """What `FlinkJob(name, FlinkJobArgs(...))` sends the engine, with plain values."""
    jar = jobs_jar(cluster.version)
    args = FlinkJobArgs(rest_url=cluster.rest_url, jar_path=str(jar.path), jar_sha256=jar.sha256,
                        entry_class=COUNTING_JOB, parallelism=2, job_name=f"{name}-{time.time_ns()}",
                        rest_deadline_seconds=60, start_deadline_seconds=60, savepoint_deadline_seconds=60,
                        job_stable_seconds=1)
    props = {**args.props(default_job_name=name), **overrides}
    return resource_inputs(FlinkJobProvider(), props)


def live_state(cluster: FlinkCluster, job_id: str) -> str:
    status = FlinkRestClient(cluster.rest_url).job_summary(job_id)
    return status.state if status else "MISSING"


def jobs_named(cluster: FlinkCluster, name: str) -> list[dict[str, Any]]:
    jobs = requests.get(f"{cluster.rest_url}/jobs/overview", timeout=10).json()["jobs"]
    return [job for job in jobs if job["name"] == name]


@dataclass(frozen=True)
class Count:
    label: str
    n: int
    key: int
    count: int


def counts(out: Path) -> list[Count]:
    rows = [line.split() for path in out.glob("*.txt") for line in path.read_text().splitlines() if line]
    return sorted((Count(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows if len(r) == 4), key=lambda c: c.n)


def wait_for_counts(out: Path, label: str, at_least: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while sum(1 for c in counts(out) if c.label == label) < at_least:
        assert time.monotonic() < deadline, f"the counting job {label} wrote too little to {out}"
        time.sleep(0.1)


def counting_v1(cluster: FlinkCluster, engine: Engine, name: str, tmp_path: Path,
                **overrides: Any) -> tuple[dict[str, Any], State, Path, Path]:
    """`pulumi up` of the counting job "v1" in savepoint mode, once it has counted a while."""
    out, savepoints = tmp_path / "out", tmp_path / "savepoints"
    news = job_inputs(cluster, name, args=[str(out), "v1", "4", "2"],
                      **{"upgrade_mode": "savepoint", "savepoint_dir": str(savepoints), **overrides})
    state = engine.up(name, news)
    wait_for_counts(out, "v1", 100)
    return news, state, out, savepoints


def assert_continuous(rows: list[Count], labels: list[str]) -> None:
    """Each version continues exactly where the previous one's savepoint was: no gap, no repeat."""
    start = 0
    for label in labels:
        numbers = [c.n for c in rows if c.label == label]
        assert numbers and numbers == list(range(start, start + len(numbers))), label  # operator state
        start += len(numbers)
    assert len(rows) == start
    per_key: dict[int, list[int]] = defaultdict(list)
    for c in rows:
        per_key[c.key].append(c.count)
    assert sorted(per_key) == [0, 1, 2, 3]
    for key, seen in per_key.items():  # every key's counter carries on too (keyed state)
        assert seen == list(range(1, len(seen) + 1)), f"key {key}"


def assert_one_line(error: ProviderError, *fragments: str) -> None:
    """The host prints a Python traceback; its last line is our message, free of any Java stack."""
    assert re.match(r"^components\.flink_job\w*\.FlinkJobError: ", error.last_line), error.details
    for fragment in fragments:
        assert fragment in error.last_line, error.last_line
    assert "\tat " not in error.details and "Caused by" not in error.details


# --- the happy path ----------------------------------------------------------------------------------


def test_up_refresh_upgrade_stateless_and_destroy(flink: FlinkCluster, provider_host: ProviderHost,
                                                  tmp_path: Path) -> None:
    engine = Engine(provider_host)
    # savepoint mode without a savepoint directory: upgrades are stateless, with a warning.
    news = job_inputs(flink, "happy", args=[str(tmp_path / "out"), "v1"], upgrade_mode="savepoint")
    state = engine.up("happy", news)
    assert engine.last_calls == ["check", "create"]
    out = state.outputs
    assert state.id == out["job_id"] and len(state.id) == 32
    assert out["state"] == "RUNNING" and out["effective_upgrade_mode"] == "stateless"
    assert out["flink_version"] == FlinkRestClient(flink.rest_url).overview().flink_version
    assert out["job_ui_url"] == f"{flink.rest_url}/#/job/running/{state.id}/overview"
    assert out["jar_id"].endswith(f"-{news['jar_sha256']}.jar") and out["start_time"].endswith("+00:00")
    # Flink's live view (not its 3 s execution-graph cache) agrees: the job and every task run.
    live = FlinkRestClient(flink.rest_url).job_summary(state.id)
    assert live is not None and live.name == "counting-job v1" and live.all_tasks_running

    refreshed = engine.refresh("happy")
    assert refreshed.state is not None and refreshed.state.outputs["state"] == "RUNNING" and not refreshed.drift
    engine.up("happy", news)
    assert engine.last_calls == ["check", "diff"]  # no change, no call

    upgraded = engine.up("happy", {**news, "args": [str(tmp_path / "out"), "v2"]})
    assert engine.last_calls == ["check", "diff", "update"]
    assert upgraded.id == state.id  # the engine keeps the id; the outputs carry the new job
    new_job = upgraded.outputs["job_id"]
    assert new_job != state.id and upgraded.outputs["jar_id"] == out["jar_id"]  # outputs not wiped
    assert live_state(flink, state.id) == "CANCELED" and live_state(flink, new_job) == "RUNNING"
    assert "no savepoint_dir, so the upgrade is stateless" in provider_host.output()

    # As the engine does: the resource keeps its first id; the running job is the `job_id` output.
    engine.destroy("happy")
    assert live_state(flink, new_job) == "CANCELED"


def test_savepoint_upgrade_carries_state_without_gap_or_repeat(flink: FlinkCluster, provider_host: ProviderHost,
                                                               tmp_path: Path) -> None:
    engine = Engine(provider_host)
    news, state, out, savepoints = counting_v1(flink, engine, "counting", tmp_path)

    # A new version (arguments and parallelism) from a savepoint of the old one.
    state = engine.up("counting", {**news, "args": [str(out), "v2", "4", "2"], "parallelism": 1})
    savepoint = state.outputs["last_savepoint"]
    assert savepoint and Path(savepoint.removeprefix("file:")).parent == savepoints
    assert state.outputs["restored_from"] == savepoint and state.outputs["savepoints"] == [savepoint]
    wait_for_counts(out, "v2", 200)
    job_id = state.outputs["job_id"]
    engine.destroy("counting")  # the engine's id is the first job's; the running one is job_id
    assert live_state(flink, job_id) == "FINISHED"  # stopped with a final savepoint, not cancelled
    assert len(list(savepoints.iterdir())) == 2

    assert_continuous(counts(out), ["v1", "v2"])


def test_cluster_revision_resubmits_a_forgotten_job_and_leaves_a_surviving_one(
        flink22: FlinkCluster, provider_host: ProviderHost, tmp_path: Path) -> None:
    """Defect: a cluster roll never reached the jobs. Without HA a restarted JobManager forgets every job;
    the cluster's revision is a job input, so the same `up` that rolled the cluster updates the job, which
    resubmits it from its last savepoint. A revision change the job survived (HA) restarts nothing."""
    engine = Engine(provider_host)
    cluster = flink22  # the shared cluster: restarted below, as a roll without HA restarts it
    news, state, out, _ = counting_v1(cluster, engine, "rolled", tmp_path, cluster_revision="config-1")
    survived = engine.up("rolled", {**news, "cluster_revision": "config-2"})
    assert engine.last_calls == ["check", "diff", "update"]
    assert survived.outputs["job_id"] == state.id and live_state(cluster, state.id) == "RUNNING"
    news = {**news, "args": [str(out), "v2", "4", "2"], "cluster_revision": "config-2"}
    state = engine.up("rolled", news)
    savepoint = state.outputs["last_savepoint"]
    wait_for_counts(out, "v2", 50)

    cluster.restart()  # the roll: the JobManager comes back without the job
    rolled = engine.up("rolled", {**news, "cluster_revision": "config-3"})
    assert engine.last_calls == ["check", "diff", "update"]
    assert rolled.outputs["state"] == "RUNNING" and rolled.outputs["restored_from"] == savepoint
    assert live_state(cluster, rolled.outputs["job_id"]) == "RUNNING"

    wait_for_counts(out, "v2", sum(1 for c in counts(out) if c.label == "v2") + 20)
    rows = counts(out)
    first_v2 = min(c.n for c in rows if c.label == "v2")
    # The resubmission began where v2 first began (the savepoint), not at zero: that number twice.
    assert first_v2 > 0 and sum(1 for c in rows if c.label == "v2" and c.n == first_v2) == 2
    engine.destroy("rolled")


# --- failures -------------------------------------------------------------------------------------------


def test_wrong_entry_class_fails_in_one_line(flink22: FlinkCluster, provider_host: ProviderHost) -> None:
    engine = Engine(provider_host)
    with pytest.raises(ProviderError) as error:
        engine.up("wrong", job_inputs(flink22, "wrong", entry_class="com.example.NoSuchJob"))
    assert_one_line(error.value, "could not start job", "entry class com.example.NoSuchJob",
                    "java.lang.ClassNotFoundException: com.example.NoSuchJob")
    assert active_jobs(flink22.rest_url) == [] and engine.state("wrong") is None


def test_a_job_that_throws_at_start_is_cancelled_with_its_root_cause(flink22: FlinkCluster,
                                                                     provider_host: ProviderHost) -> None:
    engine = Engine(provider_host)
    news = job_inputs(flink22, "boom", entry_class=FAILING_JOB, args=["task"], parallelism=1,
                      flink_configuration=RESTART_FOREVER)
    started = time.monotonic()
    with pytest.raises(ProviderError) as error:
        engine.up("boom", news)
    assert time.monotonic() - started < 30  # noticed the restart, did not wait out the deadline
    assert_one_line(error.value, "failed while starting",
                    "java.lang.IllegalStateException: boom: the test job fails on purpose while starting")
    assert active_jobs(flink22.rest_url) == []  # cancelled, not left restarting forever

    # A main() that throws never becomes a job at all.
    with pytest.raises(ProviderError) as main_error:
        engine.up("boom", {**news, "args": ["main"]})
    assert_one_line(main_error.value, "java.lang.IllegalArgumentException: FailingJob refuses to build")


def test_parallelism_above_the_free_slots_fails_at_once(flink22: FlinkCluster, provider_host: ProviderHost) -> None:
    jobs_before = len(requests.get(f"{flink22.rest_url}/jobs/overview", timeout=10).json()["jobs"])
    started = time.monotonic()
    with pytest.raises(ProviderError) as error:
        Engine(provider_host).up("wide", job_inputs(flink22, "wide", parallelism=9))
    assert time.monotonic() - started < 10
    assert_one_line(error.value, "needs 9 task slots (parallelism)", "has 4 free (4 in total)")
    assert len(requests.get(f"{flink22.rest_url}/jobs/overview", timeout=10).json()["jobs"]) == jobs_before


def test_a_failed_savepoint_leaves_the_old_job_running(flink22: FlinkCluster, provider_host: ProviderHost,
                                                       tmp_path: Path) -> None:
    engine = Engine(provider_host)
    blocker = tmp_path / "a-file"
    blocker.write_text("savepoints cannot go below a file")
    news = job_inputs(flink22, "stuck", args=[str(tmp_path / "out"), "v1"], upgrade_mode="savepoint",
                      savepoint_dir=str(blocker / "savepoints"))
    state = engine.up("stuck", news)
    with pytest.raises(ProviderError) as error:
        engine.up("stuck", {**news, "args": [str(tmp_path / "out"), "v2"]})
    assert_one_line(error.value, "upgrade of job", "java.nio.file.FileAlreadyExistsException",
                    f"the old job {state.id} keeps running")
    assert engine.state("stuck") == state and live_state(flink22, state.id) == "RUNNING"
    assert [job["jid"] for job in active_jobs(flink22.rest_url)] == [state.id]  # and no second job


def _broken(news: dict[str, Any], out: Path, fail_after_ms: int) -> dict[str, Any]:
    """v2 of the counting job that fails while starting (0) or after running fail_after_ms."""
    return {**news, "args": [str(out), "v2-broken", "4", "2", "0", str(fail_after_ms)]}


def test_a_new_version_that_fails_at_start_is_rolled_back_from_the_upgrade_savepoint(
        flink22: FlinkCluster, provider_host: ProviderHost, tmp_path: Path) -> None:
    """Defect: a failed update left state and Flink apart (state: v1 RUNNING, Flink: nothing). Now the
    previous version runs again from the savepoint the upgrade took, the state (kept by the engine) is
    true, refresh agrees, and the next `up` with a fixed version succeeds from v1's latest snapshot."""
    engine = Engine(provider_host)
    news, state, out, savepoints = counting_v1(flink22, engine, "rollout", tmp_path)

    started = time.monotonic()
    with pytest.raises(ProviderError) as error:
        engine.up("rollout", _broken(news, out, 0))
    rollback_s = time.monotonic() - started
    (savepoint,) = savepoints.iterdir()
    assert_one_line(error.value, "failed and was rolled back", "broken version: fails while starting",
                    "the previous version is running again", f"from file:{savepoint}")
    assert engine.state("rollout") == state  # the engine kept v1's inputs and outputs…
    (running,) = active_jobs(flink22.rest_url)  # …and v1 is what runs
    assert running["name"] == "counting-job v1" and running["jid"] != state.id
    refreshed = engine.refresh("rollout")
    assert refreshed.state is not None and refreshed.state.outputs["job_id"] == running["jid"]
    assert refreshed.state.outputs["state"] == "RUNNING" and not refreshed.drift
    wait_for_counts(out, "v1", max(c.n for c in counts(out)) + 50)

    fixed = engine.up("rollout", {**news, "args": [str(out), "v2", "4", "2"]})
    wait_for_counts(out, "v2", 100)
    engine.destroy("rollout")
    assert_continuous(counts(out), ["v1", "v2"])
    assert fixed.outputs["state"] == "RUNNING" and rollback_s < 40


def test_a_new_version_that_fails_after_starting_fails_the_health_gate_and_is_rolled_back(
        flink22: FlinkCluster, provider_host: ProviderHost, tmp_path: Path) -> None:
    engine = Engine(provider_host)
    news, state, out, _ = counting_v1(flink22, engine, "late-fail", tmp_path)
    broken = {**_broken(news, out, 1500), "job_stable_seconds": 6, "flink_configuration": RESTART_FOREVER}
    with pytest.raises(ProviderError) as error:
        engine.up("late-fail", broken)
    assert_one_line(error.value, "failed within 6s of starting (jobStableSeconds)",
                    "broken version: fails after 1500 ms", "the previous version is running again")
    assert any(c.label == "v2-broken" for c in counts(out))  # it ran, wrote, then failed
    (running,) = active_jobs(flink22.rest_url)
    assert running["name"] == "counting-job v1"
    wait_for_counts(out, "v1", max(c.n for c in counts(out)) + 50)
    engine.destroy("late-fail")
    # v1 continues exactly from the upgrade's savepoint: what the broken version wrote is its own.
    v1 = [c for c in counts(out) if c.label == "v1"]
    assert [c.n for c in v1] == list(range(len(v1)))


def test_a_failed_rollback_names_the_snapshot_and_refresh_then_up_restores_from_it(
        flink22: FlinkCluster, provider_host: ProviderHost, tmp_path: Path) -> None:
    engine = Engine(provider_host)
    v1_jar = tmp_path / "v1.jar"
    shutil.copy(jobs_jar("2.2").path, v1_jar)
    with zipfile.ZipFile(v1_jar, "a") as archive:
        archive.comment = f"v1 {time.time_ns()}".encode()
    news, state, out, savepoints = counting_v1(flink22, engine, "no-way-back", tmp_path, jar_path=str(v1_jar),
                                               jar_sha256=file_sha256(v1_jar))
    client = FlinkRestClient(flink22.rest_url)
    client.delete_jar(state.outputs["jar_id"])  # the previous version's jar is gone everywhere
    v1_jar.unlink()
    broken = {**_broken(news, out, 0), "jar_path": str(jobs_jar("2.2").path), "jar_sha256": jobs_jar("2.2").sha256}
    with pytest.raises(ProviderError) as error:
        engine.up("no-way-back", broken)
    (savepoint,) = savepoints.iterdir()
    assert_one_line(error.value, "rolling back to the previous version failed too", "cannot read the job jar",
                    f"the pipeline restores from file:{savepoint}", "`pulumi refresh` and `pulumi up`")
    assert active_jobs(flink22.rest_url) == []
    refreshed = engine.refresh("no-way-back")  # state and Flink agree again: ended, restorable
    assert refreshed.state is not None and refreshed.state.outputs["state"] == "VANISHED"
    assert refreshed.state.outputs["last_savepoint"] == f"file:{savepoint}"
    fixed = {**broken, "args": [str(out), "v2", "4", "2"]}
    assert engine.up("no-way-back", fixed).outputs["restored_from"] == f"file:{savepoint}"
    wait_for_counts(out, "v2", 100)
    engine.destroy("no-way-back")
    assert_continuous(counts(out), ["v1", "v2"])


def test_refresh_keeps_an_ended_job_with_a_snapshot_restorable(flink22: FlinkCluster, provider_host: ProviderHost,
                                                               tmp_path: Path) -> None:
    """Defect: refresh dropped an ended job, and the next `up` submitted it fresh, ignoring its savepoint."""
    engine = Engine(provider_host)
    news, state, out, savepoints = counting_v1(flink22, engine, "stopped", tmp_path)
    client = FlinkRestClient(flink22.rest_url)
    by_hand = client.stop_with_savepoint(state.id, str(savepoints), 60)  # someone runs `flink stop`
    refreshed = engine.refresh("stopped")
    assert refreshed.state is not None and refreshed.state.outputs["state"] == "VANISHED"
    assert refreshed.state.outputs["last_savepoint"] == by_hand and refreshed.drift
    resumed = engine.up("stopped", news)
    assert engine.last_calls == ["check", "diff", "update"]
    assert resumed.outputs["restored_from"] == by_hand
    wait_for_counts(out, "v1", max(c.n for c in counts(out)) + 50)
    engine.destroy("stopped")
    v1 = [c for c in counts(out) if c.label == "v1"]
    assert sorted(c.n for c in v1) == list(range(len(v1)))  # no gap, no repeat across the stop


def test_delete_of_a_cancelled_job_succeeds_and_up_resubmits(flink22: FlinkCluster, provider_host: ProviderHost,
                                                             tmp_path: Path) -> None:
    engine = Engine(provider_host)
    news = job_inputs(flink22, "gone", args=[str(tmp_path / "out"), "v1"], upgrade_mode="savepoint",
                      savepoint_dir=str(tmp_path / "savepoints"))
    state = engine.up("gone", news)
    client = FlinkRestClient(flink22.rest_url)
    assert client.cancel(state.id)  # someone clicks "Cancel Job" in the UI
    client.wait_for_terminal(state.id, 30)

    # No snapshot to go back to: refresh reports it missing, so the next `up` submits it again…
    assert engine.refresh("gone").state is None
    again = engine.up("gone", news)
    assert engine.last_calls == ["check", "create"]
    assert f"no snapshot of its previous run {state.id}" in provider_host.output()  # said aloud
    assert again.id != state.id and live_state(flink22, again.id) == "RUNNING"
    # …and destroying a job that is already over is not an error.
    client.cancel(again.id)
    client.wait_for_terminal(again.id, 30)
    engine.destroy("gone")


def test_replace_deletes_before_it_creates(flink22: FlinkCluster, provider_host: ProviderHost,
                                           tmp_path: Path) -> None:
    """Defect: a create-before-delete replacement adopted the running job, then the old delete stopped it.
    `up --replace` with the resource's delete-before-replace option, and a rename (diff: replace, delete
    first) that starts from the previous job's final savepoint when asked (initial_savepoint_path)."""
    engine = Engine(provider_host)
    news, state, out, savepoints = counting_v1(flink22, engine, "replaced", tmp_path)
    replaced = engine.up("replaced", news, replace=True, delete_before_replace=True)
    assert engine.last_calls == ["check", "delete", "create"]
    assert [job["jid"] for job in active_jobs(flink22.rest_url)] == [replaced.id]

    final = sorted(savepoints.iterdir())[-1]
    renamed = engine.up("replaced", {**news, "job_name": news["job_name"] + "-renamed",
                                     "initial_savepoint_path": f"file:{final}", "sink_identity": "public.t@1"})
    assert engine.last_calls == ["check", "diff", "check", "delete", "create"]  # the diff asked delete-first
    assert [job["jid"] for job in active_jobs(flink22.rest_url)] == [renamed.id]
    assert renamed.outputs["restored_from"] == f"file:{final}"
    # A job bound to a sink table restored from the initial savepoint: a later rebuild would do it again.
    assert f"restored from jobInitialSavepointPath (jobs[].initialSavepointPath) file:{final}; unset it once " \
           "the job runs" in provider_host.output()
    engine.destroy("replaced")


def job_inputs_offline() -> dict[str, Any]:
    args = FlinkJobArgs(rest_url="http://127.0.0.1:1", jar_path="/x.jar", jar_sha256="0" * 64, job_name="gap")
    return args.props(default_job_name="gap")


def test_every_attempt_is_looked_up_past_a_gap() -> None:
    """Defect: the lookup stopped at the first id Flink did not list; after a rolled-back upgrade (attempt 1)
    Flink forgets attempt 0 first (jobstore.expiration-time), and attempt 1 was then never found."""
    spec = spec_from(job_inputs_offline())

    def job(attempt: int, state: str) -> JobStatus:
        return JobStatus(job_id=spec.job_id(attempt), name="x", state=state, start_time=0, tasks={})
    listing = {j.job_id: j for j in (job(1, "FINISHED"), job(3, "RUNNING"), job(5, "CANCELED"))}
    assert [j.job_id for j in listed_attempts(listing, spec)] == [spec.job_id(a) for a in (1, 3, 5)]
    assert listed_attempts({}, spec) == []


def test_a_rolled_back_attempt_past_a_forgotten_one_is_stopped_and_resumed(
        flink22: FlinkCluster, provider_host: ProviderHost, tmp_path: Path) -> None:
    """The state records attempt 0, which Flink no longer lists; the version runs as attempt 1 (a rollback).
    delete must stop attempt 1 with its savepoint, and the replacement's create resume from it."""
    out, savepoints = tmp_path / "out", tmp_path / "savepoints"
    news = job_inputs(flink22, "gap", args=[str(out), "v1", "4", "2"], upgrade_mode="savepoint",
                      savepoint_dir=str(savepoints))
    spec = spec_from(news)
    client = FlinkRestClient(flink22.rest_url)
    rolled_back = client.run_jar(ensure_jar(client, spec).jar_id, entry_class=spec.entry_class, args=spec.args,
                                 parallelism=spec.parallelism, job_id=spec.job_id(1))
    wait_for_counts(out, "v1", 100)
    provider_host.delete(spec.job_id(0), {**news, "job_id": spec.job_id(0)})
    assert live_state(flink22, rolled_back) == "FINISHED"  # stopped (with a savepoint), not left running
    final = sorted(savepoints.iterdir())[-1]
    engine = Engine(provider_host)
    resumed = engine.up("gap", news)
    assert resumed.outputs["restored_from"] and str(final) in resumed.outputs["restored_from"]
    wait_for_counts(out, "v1", max(c.n for c in counts(out)) + 50)
    engine.destroy("gap")
    v1 = sorted(c.n for c in counts(out) if c.label == "v1")
    assert v1 == list(range(len(v1)))  # no gap, no repeat across the replacement


def test_destroy_with_the_rest_api_unreachable_says_how_and_can_abandon(provider_host: ProviderHost) -> None:
    engine = Engine(provider_host)
    jar = jobs_jar("2.2")
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: the cluster is gone or out of reach
    news = resource_inputs(FlinkJobProvider(), FlinkJobArgs(
        rest_url=url, jar_path=str(jar.path), jar_sha256=jar.sha256, job_name="unreachable",
        desired_state="suspended", rest_deadline_seconds=1).props(default_job_name="unreachable"))
    engine.up("far", news)  # declared suspended: nothing to submit
    started = time.monotonic()
    with pytest.raises(ProviderError) as error:
        engine.destroy("far")
    assert time.monotonic() - started < 10
    assert_one_line(error.value, "cannot stop job 'unreachable'", "connection refused",
                    "set abandonOnUnreachable true", "`pulumi config set jobAbandonOnUnreachable true`")
    assert engine.state("far") is not None
    engine.up("far", {**news, "abandon_on_unreachable": True})  # applied without reaching Flink
    engine.destroy("far")
    assert engine.state("far") is None
    assert "job 'unreachable'" in provider_host.output() and "abandoned" in provider_host.output()


def test_suspend_and_resume_without_loss(flink22: FlinkCluster, provider_host: ProviderHost, tmp_path: Path) -> None:
    engine = Engine(provider_host)
    news, state, out, savepoints = counting_v1(flink22, engine, "pause", tmp_path)
    suspended = engine.up("pause", {**news, "desired_state": "suspended"})
    assert suspended.outputs["state"] == "SUSPENDED" and active_jobs(flink22.rest_url) == []
    snapshot = suspended.outputs["last_savepoint"]
    assert snapshot and Path(snapshot.removeprefix("file:")).parent == savepoints
    refreshed = engine.refresh("pause")
    assert refreshed.state is not None and refreshed.state.outputs["state"] == "SUSPENDED" and not refreshed.drift
    resumed = engine.up("pause", news)
    assert resumed.outputs["state"] == "RUNNING" and resumed.outputs["restored_from"] == snapshot
    wait_for_counts(out, "v1", max(c.n for c in counts(out)) + 50)
    engine.destroy("pause")
    v1 = [c for c in counts(out) if c.label == "v1"]
    assert sorted(c.n for c in v1) == list(range(len(v1)))


def test_retention_keeps_the_newest_savepoints_and_disposes_of_the_rest(
        flink22: FlinkCluster, provider_host: ProviderHost, tmp_path: Path) -> None:
    engine = Engine(provider_host)
    news, state, out, savepoints = counting_v1(flink22, engine, "keep", tmp_path, savepoints_to_keep=2)
    for version in ("v2", "v3", "v4"):
        state = engine.up("keep", {**news, "args": [str(out), version, "4", "2"]})
        wait_for_counts(out, version, 20)
    on_disk = sorted(f"file:{p}" for p in savepoints.iterdir())
    assert len(state.outputs["savepoints"]) == 2 and sorted(state.outputs["savepoints"]) == on_disk
    assert state.outputs["restored_from"] in on_disk  # the one in use is kept
    engine.destroy("keep")
    assert_continuous(counts(out), ["v1", "v2", "v3", "v4"])


def _last_state_config(**extra: str) -> dict[str, str]:
    return {"execution.checkpointing.interval": "500 ms",
            "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION", **extra}


def test_last_state_upgrade_restores_from_the_newest_checkpoint(flink22: FlinkCluster, provider_host: ProviderHost,
                                                                tmp_path: Path) -> None:
    engine = Engine(provider_host)
    config = _last_state_config(**{"execution.checkpointing.dir": f"file://{tmp_path / 'checkpoints'}"})
    news, state, out, savepoints = counting_v1(flink22, engine, "last", tmp_path, upgrade_mode="last-state",
                                               flink_configuration=config, require_checkpoint=True)
    time.sleep(1.5)
    upgraded = engine.up("last", {**news, "args": [str(out), "v2", "4", "2"]})
    restored = upgraded.outputs["restored_from"]
    assert restored and "/chk-" in restored and not list(savepoints.glob("*"))  # a checkpoint, no savepoint
    wait_for_counts(out, "v2", 100)
    engine.destroy("last")
    rows = counts(out)
    v1 = sorted(c.n for c in rows if c.label == "v1")
    v2 = sorted(c.n for c in rows if c.label == "v2")
    assert v1 == list(range(len(v1))) and v2 == list(range(v2[0], v2[0] + len(v2)))
    assert 0 < v2[0] <= v1[-1] + 1  # nothing lost; what v1 wrote after the checkpoint is written again

    # No fresh checkpoint: the upgrade refuses in one line, the old job keeps running.
    never = _last_state_config(**{"execution.checkpointing.interval": "1 h"})
    engine.up("stale", {**news, "job_name": news["job_name"] + "-stale", "flink_configuration": never,
                        "require_checkpoint": False})
    with pytest.raises(ProviderError) as error:
        engine.up("stale", {**news, "job_name": news["job_name"] + "-stale", "flink_configuration": never,
                            "require_checkpoint": False, "args": [str(out), "v3"]})
    assert_one_line(error.value, "last-state upgrade of job", "has no completed checkpoint",
                    "the old job keeps running")
    assert live_state(flink22, engine.state("stale").id) == "RUNNING"


def test_a_cancelled_last_state_job_is_replaced_from_its_retained_checkpoint(
        flink22: FlinkCluster, provider_host: ProviderHost, tmp_path: Path) -> None:
    """Defect: only a FINISHED previous run was resumed; a last-state job without a savepoint directory is
    cancelled by delete, and its replacement started without state though Flink listed its checkpoint."""
    engine = Engine(provider_host)
    config = _last_state_config(**{"execution.checkpointing.dir": f"file://{tmp_path / 'checkpoints'}"})
    news, state, out, _ = counting_v1(flink22, engine, "cancelled", tmp_path, upgrade_mode="last-state",
                                      savepoint_dir=None, flink_configuration=config, require_checkpoint=True)
    replaced = engine.up("cancelled", news, replace=True, delete_before_replace=True)
    assert engine.last_calls == ["check", "delete", "create"]
    assert FlinkRestClient(flink22.rest_url).job_summary(state.id).state == "CANCELED"
    restored = replaced.outputs["restored_from"]
    assert restored and "/chk-" in restored
    wait_for_counts(out, "v1", max(c.n for c in counts(out)) + 50)
    engine.destroy("cancelled")
    v1 = sorted(set(c.n for c in counts(out) if c.label == "v1"))
    assert v1 == list(range(len(v1)))  # resumed (what ran after the checkpoint is written again), not from 0
    assert sum(1 for c in counts(out) if c.label == "v1" and c.n == 0) == 1


def test_jobs_sharing_a_jar_created_concurrently_upload_it_once_and_a_shortage_fails_fast(
        flink22: FlinkCluster, provider_host: ProviderHost, tmp_path: Path) -> None:
    jar = tmp_path / "shared.jar"
    shutil.copy(jobs_jar("2.2").path, jar)
    with zipfile.ZipFile(jar, "a") as archive:
        archive.comment = f"unique {time.time_ns()}".encode()  # new content: not on Flink yet
    sha = file_sha256(jar)
    engine = Engine(provider_host)
    news = {name: job_inputs(flink22, name, jar_path=str(jar), jar_sha256=sha, parallelism=2,
                             args=[str(tmp_path / name), name]) for name in ("a", "b", "c")}
    started = time.monotonic()
    results = engine.up_all(news)
    elapsed = time.monotonic() - started
    failed = [name for name, result in results.items() if isinstance(result, BaseException)]
    assert len(failed) == 1, results
    error = results[failed[0]]
    assert isinstance(error, ProviderError)
    assert_one_line(error, "needs 2 task slots", "has 0 free (4 in total")
    assert elapsed < 40  # not at Flink's 5-minute slot request timeout
    uploads = [f for f in FlinkRestClient(flink22.rest_url).list_jars() if sha in str(f.get("name"))]
    assert len(uploads) == 1
    assert len(active_jobs(flink22.rest_url)) == 2  # the jobs that fit keep running
    for name in news:
        if name not in failed:
            engine.destroy(name)


def test_create_retried_after_a_crash_adopts_the_job_it_started(flink22: FlinkCluster, provider_host: ProviderHost,
                                                                tmp_path: Path) -> None:
    # The throttle sits INITIALIZING for 4 s: the job exists but create has not returned yet.
    news = job_inputs(flink22, "crash", args=[str(tmp_path / "out"), "crash", "4", "2", "4000"])
    doomed = ProviderHost.start()
    failure: list[BaseException] = []
    thread = threading.Thread(target=lambda: _capture(failure, lambda: doomed.create(news, "crash")))
    thread.start()
    deadline = time.monotonic() + 30
    while not jobs_named(flink22, "counting-job crash"):
        assert time.monotonic() < deadline, "the job was never submitted"
        time.sleep(0.05)
    doomed.stop()  # the deploying process dies between run and return
    thread.join(30)
    assert failure and isinstance(failure[0], ProviderError)

    state = Engine(provider_host).up("crash", news)  # the engine retries the create
    jobs = jobs_named(flink22, "counting-job crash")
    assert len(jobs) == 1 and jobs[0]["jid"] == state.id and jobs[0]["state"] == "RUNNING"


def _capture(into: list[BaseException], call: Any) -> None:
    try:
        call()
    except BaseException as error:  # noqa: BLE001 - handed to the test thread
        into.append(error)


def test_rest_api_not_up_yet_when_create_starts(provider_host: ProviderHost, tmp_path: Path) -> None:
    port = free_port()
    cluster = _PinnedPortCluster(version="2.2", files=cluster_files("2.2", slots=2), taskmanagers=1, pinned_port=port)
    rest_url = f"http://127.0.0.1:{port}"
    news = job_inputs(cluster, "late", rest_url=rest_url, args=[str(tmp_path / "out"), "late"])
    engine = Engine(provider_host)
    result: list[Any] = []
    thread = threading.Thread(target=lambda: _capture(result, lambda: result.append(engine.up("late", news))))
    thread.start()
    time.sleep(3)  # create is already retrying against a closed port (the load balancer is not there yet)
    with cluster:
        thread.join(90)
        assert result and not isinstance(result[0], BaseException), result
        created = result[0]
        assert created.outputs["state"] == "RUNNING" and live_state(cluster, created.id) == "RUNNING"

    # And when it never comes up, the error names the URL and what answered last.
    with pytest.raises(ProviderError) as error:
        engine.up("late-2", {**news, "rest_deadline_seconds": 1.5})
    assert_one_line(error.value, f"Flink REST API at {rest_url} was not ready within 1.5s",
                    "last answer:", "connection refused")


class _PinnedPortCluster(FlinkCluster):
    """A cluster whose REST port is chosen before it starts, so a client can wait for it."""

    def __init__(self, *, pinned_port: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pinned_port = pinned_port

    def _start_jobmanager(self) -> None:
        self.rest_port = self.pinned_port
        self.cluster_dynamic["rest.port"] = str(self.pinned_port)
        super()._start_jobmanager()


# --- preview ---------------------------------------------------------------------------------------------


def test_preview_with_unknown_values_never_calls_flink(provider_host: ProviderHost) -> None:
    # A listening socket stands where Flink would be: any call to it would show up as a connection.
    with socket.socket() as sentinel:
        sentinel.bind(("127.0.0.1", 0))
        sentinel.listen()
        sentinel.setblocking(False)
        url = f"http://127.0.0.1:{sentinel.getsockname()[1]}"
        known = resource_inputs(FlinkJobProvider(), {
            "rest_url": url, "jar_path": "/build/job.jar", "jar_sha256": "a" * 64, "entry_class": COUNTING_JOB,
            "args": ["x"], "parallelism": 2, "upgrade_mode": "savepoint", "savepoint_dir": "s3://b/sp",
            "job_name": "preview", "allow_non_restored_state": False, "flink_configuration": {}})
        # First preview: the REST URL comes from a load balancer that does not exist yet.
        first = provider_host.check({}, {**known, "rest_url": UNKNOWN, "args": [UNKNOWN]})
        assert first.failures == [] and isinstance(first.inputs["rest_url"], Unknown)
        # Later previews: diff old outputs against partly unknown inputs.
        outputs = {**known, "job_id": "f" * 32, "state": "RUNNING"}
        assert provider_host.diff("f" * 32, outputs, known).changes == "none"
        assert provider_host.diff("f" * 32, outputs, {**known, "rest_url": UNKNOWN}).changes == "some"
        assert provider_host.diff("f" * 32, outputs, {**known, "args": [UNKNOWN]}).changes == "some"
        assert provider_host.diff("f" * 32, outputs, {**known, "parallelism": 3}).changes == "some"
        with pytest.raises(BlockingIOError):
            sentinel.accept()  # nobody connected

    bad = provider_host.check({}, {**known, "jar_sha256": "nope", "upgrade_mode": "blue-green", "parallelism": 0})
    assert {prop for prop, _ in bad.failures} == {"jar_sha256", "upgrade_mode", "parallelism"}


# Pulumi's runtime is process-global, so the mocks run in a child process.
_DECLARE_UNDER_MOCKS = r"""
import json
import pulumi
from components.flink_job import FlinkJob, FlinkJobArgs

seen = {}
register = pulumi.dynamic.Resource.__init__

def capture(self, provider, name, props, opts=None):
    seen["delete_before_replace"] = opts.delete_before_replace if opts else None
    register(self, provider, name, props, opts)

pulumi.dynamic.Resource.__init__ = capture

class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        seen.update(type=args.typ, inputs=args.inputs)
        return "job", args.inputs

    def call(self, args):
        return {}, None

pulumi.runtime.set_mocks(Mocks(), project="flink-hologres", stack="dev", preview=False)

@pulumi.runtime.test
def declare():
    job = FlinkJob("orders", FlinkJobArgs(rest_url="http://flink:8081", jar_path="job.jar", jar_sha256="b" * 64,
                                          args=["--table", "t"]))
    return job.state.apply(lambda _: None)

declare()
print(json.dumps({"type": seen["type"], "inputs": sorted(seen["inputs"]), "job_name": seen["inputs"]["job_name"],
                  "args": seen["inputs"]["args"], "delete_before_replace": seen["delete_before_replace"]}))
"""


def test_the_resource_type_token_and_inputs() -> None:
    result = subprocess.run([sys.executable, "-c", _DECLARE_UNDER_MOCKS], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["type"] == "pulumi-python:dynamic/flink:Job"
    assert seen["job_name"] == "flink-hologres/dev/orders" and seen["args"] == ["--table", "t"]
    assert {"__provider", "rest_url", "jar_path", "jar_sha256", "args", "job_name"} <= set(seen["inputs"])
    # Replacements delete first (the engine honours the option even on `up --replace`, which skips Diff).
    assert seen["delete_before_replace"] is True
