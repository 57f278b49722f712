"""FlinkJob's provider, driven through pulumi's own provider host over gRPC as `pulumi up`/`refresh`/
`destroy` drive it, against real Flink session clusters (1.20 and 2.2) and real Java test jobs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from pulumi.output import Unknown

from components.flink_job import FlinkJobArgs, FlinkJobProvider
from components.flink_rest import FlinkRestClient
from tests.harness import REPO_ROOT, free_port
from tests.harness.flink import FlinkCluster
from tests.harness.flink_jobs import SharedClusters, active_jobs, cancel_all_jobs, cluster_files, jobs_jar
from tests.harness.java import COUNTING_JOB, FAILING_JOB
from tests.harness.provider_host import (
    UNKNOWN,
    ProviderError,
    ProviderHost,
    ResourceState,
    engine_destroy,
    engine_refresh,
    engine_up,
    resource_inputs,
)

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
                        rest_deadline_seconds=60, start_deadline_seconds=60, savepoint_deadline_seconds=60)
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


def counting_v1(cluster: FlinkCluster, host: ProviderHost, name: str,
                tmp_path: Path) -> tuple[dict[str, Any], ResourceState, Path, Path]:
    """`pulumi up` of the counting job "v1" in savepoint mode, once it has counted a while."""
    out, savepoints = tmp_path / "out", tmp_path / "savepoints"
    news = job_inputs(cluster, name, args=[str(out), "v1", "4", "2"], upgrade_mode="savepoint",
                      savepoint_dir=str(savepoints))
    state = engine_up(host, name, news)
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
    assert error.last_line.startswith("components.flink_job.FlinkJobError: "), error.details
    for fragment in fragments:
        assert fragment in error.last_line, error.last_line
    assert "\tat " not in error.details and "Caused by" not in error.details


# --- the happy path ----------------------------------------------------------------------------------


def test_up_refresh_upgrade_stateless_and_destroy(flink: FlinkCluster, provider_host: ProviderHost,
                                                  tmp_path: Path) -> None:
    # savepoint mode without a savepoint directory: upgrades are stateless, with a warning.
    news = job_inputs(flink, "happy", args=[str(tmp_path / "out"), "v1"], upgrade_mode="savepoint")
    state = engine_up(provider_host, "happy", news)
    out = state.outputs
    assert state.id == out["job_id"] and len(state.id) == 32
    assert out["state"] == "RUNNING" and out["effective_upgrade_mode"] == "stateless"
    assert out["flink_version"] == FlinkRestClient(flink.rest_url).overview().flink_version
    assert out["job_ui_url"] == f"{flink.rest_url}/#/job/running/{state.id}/overview"
    assert out["jar_id"].endswith(f"-{news['jar_sha256']}.jar") and out["start_time"].endswith("+00:00")
    # Flink's live view (not its 3 s execution-graph cache) agrees: the job and every task run.
    live = FlinkRestClient(flink.rest_url).job_summary(state.id)
    assert live is not None and live.name == "counting-job v1" and live.all_tasks_running

    refreshed = engine_refresh(provider_host, state)
    assert refreshed is not None and refreshed.outputs["state"] == "RUNNING"
    assert engine_up(provider_host, "happy", news, state).steps == ["check", "diff"]  # no change, no call

    upgraded = engine_up(provider_host, "happy", {**news, "args": [str(tmp_path / "out"), "v2"]}, state)
    assert upgraded.steps == ["check", "diff", "update"]
    assert upgraded.id == state.id  # the engine keeps the id; the outputs carry the new job
    new_job = upgraded.outputs["job_id"]
    assert new_job != state.id and upgraded.outputs["jar_id"] == out["jar_id"]  # outputs not wiped
    assert live_state(flink, state.id) == "CANCELED" and live_state(flink, new_job) == "RUNNING"
    assert "no savepoint_dir, so the upgrade is stateless" in provider_host.output()

    # As the engine does: the resource keeps its first id; the running job is the `job_id` output.
    engine_destroy(provider_host, upgraded)
    assert live_state(flink, new_job) == "CANCELED"
    assert engine_refresh(provider_host, upgraded) is None


def test_savepoint_upgrade_carries_state_without_gap_or_repeat(flink: FlinkCluster, provider_host: ProviderHost,
                                                               tmp_path: Path) -> None:
    news, state, out, savepoints = counting_v1(flink, provider_host, "counting", tmp_path)

    # A new version (arguments and parallelism) from a savepoint of the old one.
    state = engine_up(provider_host, "counting", {**news, "args": [str(out), "v2", "4", "2"], "parallelism": 1},
                      state)
    savepoint = state.outputs["last_savepoint"]
    assert savepoint and Path(savepoint.removeprefix("file:")).parent == savepoints
    wait_for_counts(out, "v2", 200)
    job_id = state.outputs["job_id"]
    engine_destroy(provider_host, state)  # the engine's id is the first job's; the running one is job_id
    assert live_state(flink, job_id) == "FINISHED"  # stopped with a final savepoint, not cancelled
    assert len(list(savepoints.iterdir())) == 2

    assert_continuous(counts(out), ["v1", "v2"])


def test_a_job_forgotten_by_a_jobmanager_restart_comes_back_from_its_last_savepoint(
        provider_host: ProviderHost, tmp_path: Path) -> None:
    """Without HA a restarted JobManager forgets every job: refresh marks it VANISHED (not gone, since a
    savepoint is known) and the next `up` resubmits it from that savepoint instead of from nothing."""
    with FlinkCluster(version="2.2", files=cluster_files("2.2"), taskmanagers=1) as cluster:
        news, state, out, _ = counting_v1(cluster, provider_host, "restarted", tmp_path)
        state = engine_up(provider_host, "restarted", {**news, "args": [str(out), "v2", "4", "2"]}, state)
        savepoint = state.outputs["last_savepoint"]
        wait_for_counts(out, "v2", 50)
        cluster.restart()

        refreshed = engine_refresh(provider_host, state)
        assert refreshed is not None and refreshed.id == state.id and refreshed.outputs["state"] == "VANISHED"
        resumed = engine_up(provider_host, "restarted", {**news, "args": [str(out), "v3", "4", "2"]}, refreshed)
        assert resumed.steps == ["check", "diff", "update"]
        assert resumed.outputs["last_savepoint"] == savepoint
        wait_for_counts(out, "v3", 20)
        rows = counts(out)
        first_v2 = min(c.n for c in rows if c.label == "v2")
        first_v3 = min(c.n for c in rows if c.label == "v3")
        assert first_v3 == first_v2 > 0  # from the savepoint v2 started from, not from zero
        engine_destroy(provider_host, resumed)
        assert live_state(cluster, resumed.outputs["job_id"]) == "FINISHED"


# --- failures -------------------------------------------------------------------------------------------


def test_wrong_entry_class_fails_in_one_line(flink22: FlinkCluster, provider_host: ProviderHost) -> None:
    with pytest.raises(ProviderError) as error:
        engine_up(provider_host, "wrong", job_inputs(flink22, "wrong", entry_class="com.example.NoSuchJob"))
    assert_one_line(error.value, "could not start job", "entry class com.example.NoSuchJob",
                    "java.lang.ClassNotFoundException: com.example.NoSuchJob")
    assert active_jobs(flink22.rest_url) == []


def test_a_job_that_throws_at_start_is_cancelled_with_its_root_cause(flink22: FlinkCluster,
                                                                     provider_host: ProviderHost) -> None:
    news = job_inputs(flink22, "boom", entry_class=FAILING_JOB, args=["task"], parallelism=1,
                      flink_configuration=RESTART_FOREVER)
    started = time.monotonic()
    with pytest.raises(ProviderError) as error:
        engine_up(provider_host, "boom", news)
    assert time.monotonic() - started < 30  # noticed the restart, did not wait out the deadline
    assert_one_line(error.value, "failed while starting",
                    "java.lang.IllegalStateException: boom: the test job fails on purpose while starting")
    assert active_jobs(flink22.rest_url) == []  # cancelled, not left restarting forever

    # A main() that throws never becomes a job at all.
    with pytest.raises(ProviderError) as main_error:
        engine_up(provider_host, "boom", {**news, "args": ["main"]})
    assert_one_line(main_error.value, "java.lang.IllegalArgumentException: FailingJob refuses to build")


def test_parallelism_above_the_free_slots_fails_at_once(flink22: FlinkCluster, provider_host: ProviderHost) -> None:
    jobs_before = len(requests.get(f"{flink22.rest_url}/jobs/overview", timeout=10).json()["jobs"])
    started = time.monotonic()
    with pytest.raises(ProviderError) as error:
        engine_up(provider_host, "wide", job_inputs(flink22, "wide", parallelism=9))
    assert time.monotonic() - started < 10
    assert_one_line(error.value, "needs 9 task slots (parallelism)", "has 4 free (4 in total)")
    assert len(requests.get(f"{flink22.rest_url}/jobs/overview", timeout=10).json()["jobs"]) == jobs_before


def test_a_failed_savepoint_leaves_the_old_job_running(flink22: FlinkCluster, provider_host: ProviderHost,
                                                       tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("savepoints cannot go below a file")
    news = job_inputs(flink22, "stuck", args=[str(tmp_path / "out"), "v1"], upgrade_mode="savepoint",
                      savepoint_dir=str(blocker / "savepoints"))
    state = engine_up(provider_host, "stuck", news)
    with pytest.raises(ProviderError) as error:
        engine_up(provider_host, "stuck", {**news, "args": [str(tmp_path / "out"), "v2"]}, state)
    assert_one_line(error.value, "upgrade of job", "java.nio.file.FileAlreadyExistsException",
                    f"the old job {state.id} keeps running")
    assert live_state(flink22, state.id) == "RUNNING"
    assert [job["jid"] for job in active_jobs(flink22.rest_url)] == [state.id]  # and no second job


def test_a_new_version_that_fails_names_its_savepoint_and_the_next_up_restores_from_it(
        flink22: FlinkCluster, provider_host: ProviderHost, tmp_path: Path) -> None:
    news, state, out, savepoints = counting_v1(flink22, provider_host, "rollout", tmp_path)

    with pytest.raises(ProviderError) as error:
        engine_up(provider_host, "rollout", {**news, "entry_class": "com.example.Broken"}, state)
    (savepoint,) = savepoints.iterdir()
    assert_one_line(error.value, "could not start job", f"restore from savepoint file:{savepoint}",
                    "java.lang.ClassNotFoundException: com.example.Broken")
    assert live_state(flink22, state.id) == "FINISHED"  # stopped with the savepoint, nothing running

    # The engine still holds the old job; the fixed version is restored from that job's savepoint.
    fixed = engine_up(provider_host, "rollout", {**news, "args": [str(out), "v2", "4", "2"]}, state)
    assert fixed.outputs["last_savepoint"] == f"file:{savepoint}"
    wait_for_counts(out, "v2", 100)
    engine_destroy(provider_host, fixed)
    assert_continuous(counts(out), ["v1", "v2"])


def test_delete_of_a_cancelled_job_succeeds_and_up_resubmits(flink22: FlinkCluster, provider_host: ProviderHost,
                                                             tmp_path: Path) -> None:
    news = job_inputs(flink22, "gone", args=[str(tmp_path / "out"), "v1"], upgrade_mode="savepoint",
                      savepoint_dir=str(tmp_path / "savepoints"))
    state = engine_up(provider_host, "gone", news)
    client = FlinkRestClient(flink22.rest_url)
    assert client.cancel(state.id)  # someone clicks "Cancel Job" in the UI
    client.wait_for_terminal(state.id, 30)

    # refresh reports it missing, so the next `up` submits it again (under a fresh job id)…
    assert engine_refresh(provider_host, state) is None
    again = engine_up(provider_host, "gone", news)
    assert again.id != state.id and live_state(flink22, again.id) == "RUNNING"
    # …and destroying a job that is already over is not an error.
    engine_destroy(provider_host, state)
    client.cancel(again.id)
    client.wait_for_terminal(again.id, 30)
    engine_destroy(provider_host, again)


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

    state = engine_up(provider_host, "crash", news)  # the engine retries the create
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
    result: list[Any] = []
    thread = threading.Thread(target=lambda: _capture(result, lambda: result.append(
        provider_host.create(news, "late"))))
    thread.start()
    time.sleep(3)  # create is already retrying against a closed port (the load balancer is not there yet)
    with cluster:
        thread.join(90)
        assert result and not isinstance(result[0], BaseException), result
        job_id, outputs = result[0]
        assert outputs["state"] == "RUNNING" and live_state(cluster, job_id) == "RUNNING"

    # And when it never comes up, the error names the URL and what answered last.
    with pytest.raises(ProviderError) as error:
        provider_host.create({**news, "rest_deadline_seconds": 1.5}, "late")
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
                  "args": seen["inputs"]["args"]}))
"""


def test_the_resource_type_token_and_inputs() -> None:
    result = subprocess.run([sys.executable, "-c", _DECLARE_UNDER_MOCKS], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["type"] == "pulumi-python:dynamic/flink:Job"
    assert seen["job_name"] == "flink-hologres/dev/orders" and seen["args"] == ["--table", "t"]
    assert {"__provider", "rest_url", "jar_path", "jar_sha256", "args", "job_name"} <= set(seen["inputs"])
