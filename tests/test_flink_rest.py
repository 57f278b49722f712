"""The Flink REST client against real Flink session clusters (1.18 for the basics; the failure paths
on 1.18, 1.20 and 2.2, whose exception payloads differ)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from components.flink_rest import (
    FlinkRestClient,
    FlinkRestError,
    FlinkUnavailable,
    JobNotFound,
    JobStatus,
    SavepointFailed,
    jar_upload_name,
    root_cause_of,
)
from components.flink_rest_snapshots import checkpoint_stats, dispose_savepoint, newest_snapshot
from tests.harness import free_port
from tests.harness.flink import FLINK_RELEASES, FlinkCluster
from tests.harness.flink_jobs import SharedClusters, cancel_all_jobs, jobs_jar
from tests.harness.java import COUNTING_JOB, FAILING_JOB

pytestmark = pytest.mark.flink


@pytest.fixture
def flink_118(flink_clusters: SharedClusters) -> Iterator[FlinkCluster]:
    cluster = flink_clusters.get("1.18")
    yield cluster
    cancel_all_jobs(cluster.rest_url)


@pytest.fixture(params=["1.18", "1.20", "2.2"])
def any_flink(request: pytest.FixtureRequest, flink_clusters: SharedClusters) -> Iterator[FlinkCluster]:
    cluster = flink_clusters.get(request.param)
    yield cluster
    cancel_all_jobs(cluster.rest_url)


def wait_for(client: FlinkRestClient, job_id: str, predicate: str, timeout: float = 60) -> JobStatus:
    deadline = time.monotonic() + timeout
    while True:
        status = client.job_summary(job_id)
        assert status is not None
        if getattr(status, predicate):
            return status
        assert time.monotonic() < deadline, f"job {job_id} never {predicate}: {status}"
        time.sleep(0.1)


def test_waiting_for_an_absent_api_names_the_url_and_the_last_answer() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(FlinkUnavailable) as error:
        FlinkRestClient(url).wait_until_ready(1.0)
    assert time.monotonic() - started < 5
    message = str(error.value)
    assert url in message and "not ready within 1s" in message and "connection refused" in message
    assert "\n" not in message


def test_a_silent_server_is_bounded_by_the_request_timeout() -> None:
    # A socket that accepts but never answers: every request has a timeout, so this cannot hang.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        client = FlinkRestClient(f"http://127.0.0.1:{server.getsockname()[1]}", timeout=(1.0, 1.0))
        started = time.monotonic()
        with pytest.raises(FlinkUnavailable, match="timed out"):
            client.overview()
        assert time.monotonic() - started < 5


def test_overview_and_readiness(flink_118: FlinkCluster) -> None:
    client = FlinkRestClient(flink_118.rest_url)
    overview = client.wait_until_ready(10)
    assert overview.flink_version == FLINK_RELEASES["1.18"]
    assert overview.release == (1, 18)
    assert overview.taskmanagers == 1 and overview.slots_total == 4 and overview.slots_available == 4
    assert client.cluster_option("taskmanager.numberOfTaskSlots") == "4"


def test_upload_is_reused_by_content_and_verified(flink_118: FlinkCluster, tmp_path: Path) -> None:
    client = FlinkRestClient(flink_118.rest_url)
    jar = jobs_jar("1.18")
    first = client.ensure_jar(jar.path, jar.sha256)
    assert not first.reused and first.bytes_sent == jar.path.stat().st_size
    again = client.ensure_jar(jar.path, jar.sha256)
    assert again.reused and again.bytes_sent == 0 and again.jar_id == first.jar_id
    names = [entry["name"] for entry in client.list_jars()]
    assert names.count(jar_upload_name(jar.path, jar.sha256)) == 1

    # A jar whose content is not what the caller declared is removed again, and the error says so.
    changed = tmp_path / "changed.jar"
    changed.write_bytes(jar.path.read_bytes() + b"\0")
    before = {entry["id"] for entry in client.list_jars()}
    with pytest.raises(FlinkRestError, match=r"changed: its sha256 is [0-9a-f]{64}, expected"):
        client.ensure_jar(changed, "0" * 64)
    assert {entry["id"] for entry in client.list_jars()} == before
    with pytest.raises(FlinkRestError, match="cannot read the job jar"):
        client.upload_jar(tmp_path / "missing.jar")


def test_run_status_savepoints_and_cancel(flink_118: FlinkCluster, tmp_path: Path) -> None:
    client = FlinkRestClient(flink_118.rest_url)
    jar = jobs_jar("1.18")
    jar_id = client.ensure_jar(jar.path, jar.sha256).jar_id
    job_id = client.run_jar(jar_id, entry_class=COUNTING_JOB, args=[str(tmp_path / "out"), "rest", "4", "2"],
                            parallelism=2, job_id="0123456789abcdef0123456789abcdef")
    assert job_id == "0123456789abcdef0123456789abcdef"
    running = wait_for(client, job_id, "all_tasks_running")
    assert running.tasks == {"RUNNING": 3}  # source+throttle (1 task) and count+print (2 tasks)
    detail = client.job(job_id)
    assert detail.name == "counting-job rest" and detail.slots_used == 2
    assert len(detail.vertices) == 2 and all(v.healthy for v in detail.vertices)
    assert client.root_cause(job_id) is None

    # A savepoint that cannot be written fails with its cause; the job keeps running.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cause = r"savepoint of job \w+ failed: java\.nio\.file\.FileAlreadyExistsException"
    with pytest.raises(SavepointFailed, match=cause) as failed:
        client.stop_with_savepoint(job_id, str(blocker / "savepoints"), 60)
    assert "\tat " not in str(failed.value)
    assert client.job_summary(job_id).state == "RUNNING"  # type: ignore[union-attr]

    path = client.stop_with_savepoint(job_id, str(tmp_path / "savepoints"), 60)
    assert Path(path.removeprefix("file:")).is_dir()
    assert client.wait_for_terminal(job_id, 30).state == "FINISHED"  # type: ignore[union-attr]
    assert client.latest_savepoint(job_id) == path
    assert client.cancel(job_id) is False  # 409: already over

    unknown = "feedfacefeedfacefeedfacefeedface"
    assert client.cancel(unknown) is False  # 404
    assert client.job_summary(unknown) is None
    with pytest.raises(JobNotFound) as missing:
        client.job(unknown)
    assert missing.value.status == 404 and "\n" not in str(missing.value)


def test_failures_are_one_line_root_causes(any_flink: FlinkCluster) -> None:
    version = any_flink.version
    client = FlinkRestClient(any_flink.rest_url)
    jar = jobs_jar(version)
    jar_id = client.ensure_jar(jar.path, jar.sha256).jar_id

    with pytest.raises(FlinkRestError) as wrong_class:
        client.run_jar(jar_id, entry_class="no.such.Job")
    assert wrong_class.value.detail == "java.lang.ClassNotFoundException: no.such.Job"
    with pytest.raises(FlinkRestError) as main_throws:
        client.run_jar(jar_id, entry_class=FAILING_JOB, args=["main"])
    assert main_throws.value.detail == \
        "java.lang.IllegalArgumentException: FailingJob refuses to build its pipeline (on purpose)"

    # Per-job configuration in the run request (1.17+): a restart strategy the cluster does not have.
    job_id = client.run_jar(jar_id, entry_class=FAILING_JOB, args=["task"], parallelism=1,
                            configuration={"restart-strategy.type": "fixed-delay",
                                           "restart-strategy.fixed-delay.attempts": 1,
                                           "restart-strategy.fixed-delay.delay": "100 ms"})
    wait_for(client, job_id, "terminal")
    raw = requests.get(f"{any_flink.rest_url}/jobs/{job_id}/exceptions", timeout=10).json()
    # The payloads differ: 1.x still has the deprecated root-exception, 2.x only exceptionHistory.
    assert ("root-exception" in raw) == version.startswith("1.")
    assert "FixedDelayRestartBackoffTimeStrategy" in str(raw)
    boom = "java.lang.IllegalStateException: boom: the test job fails on purpose while starting"
    assert client.root_cause(job_id) == boom


def test_root_cause_of_real_java_traces() -> None:
    server_side = ("<Exception on server side:\njava.util.concurrent.CompletionException: "
                   "org.apache.flink.client.program.ProgramInvocationException: The program's entry point class "
                   "'x.Y' was not found in the jar file.\n\tat org.apache.flink.X.y(X.java:1)\n"
                   "\t... 5 more\n\nEnd of exception on server side>")
    assert root_cause_of(server_side) == ("org.apache.flink.client.program.ProgramInvocationException: "
                                          "The program's entry point class 'x.Y' was not found in the jar file.")
    nested = ("org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy\n"
              "\tat a.B.c(B.java:1)\nCaused by: java.lang.RuntimeException: outer\n\tat a.B.c(B.java:2)\n"
              "Caused by: java.sql.SQLException: connection refused:\n  host db:5432\n\tat a.B.c(B.java:3)\n"
              "\tSuppressed: java.lang.Exception: noise\n\t\tat a.B.c(B.java:4)\n")
    assert root_cause_of(nested) == "java.sql.SQLException: connection refused: host db:5432"
    assert root_cause_of("java.lang.ClassNotFoundException: no.Such\n\tat x") == \
        "java.lang.ClassNotFoundException: no.Such"
    assert len(root_cause_of("java.lang.Error: " + "x" * 5000)) <= 600


def test_checkpoint_statistics_and_savepoint_disposal(any_flink: FlinkCluster, tmp_path: Path) -> None:
    """The snapshot calls last-state, retention and `read` rely on, per version: the newest retained
    checkpoint of a running and of a cancelled job, the latest savepoint, and disposal through Flink."""
    client = FlinkRestClient(any_flink.rest_url)
    jar = jobs_jar(any_flink.version)
    directory = "execution.checkpointing.dir" if any_flink.version.startswith("2") else "state.checkpoints.dir"
    config = {"execution.checkpointing.interval": "300 ms", directory: f"file://{tmp_path / 'checkpoints'}",
              "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION"}
    jar_id = client.ensure_jar(jar.path, jar.sha256).jar_id
    job_id = client.run_jar(jar_id, entry_class=COUNTING_JOB, args=[str(tmp_path / "out"), "ck", "4", "2"],
                            parallelism=1, configuration=config)
    wait_for(client, job_id, "all_tasks_running")
    deadline = time.monotonic() + 60
    while not ((stats := checkpoint_stats(client, job_id)) and stats.latest):
        assert time.monotonic() < deadline, "no checkpoint completed"
        time.sleep(0.3)
    assert stats.completed >= 1 and "/chk-" in stats.latest.path and stats.latest.completed_ms > 0
    # (A newer checkpoint may already have subsumed this one, 300 ms apart: its job's directory is there.)
    assert Path(stats.latest.path.removeprefix("file:")).parent.is_dir()
    savepoint = client.stop_with_savepoint(job_id, str(tmp_path / "savepoints"), 60)
    client.wait_for_terminal(job_id, 60)
    time.sleep(3.5)  # the statistics of the ended job, past Flink's 3 s cache
    ended = checkpoint_stats(client, job_id)
    assert ended is not None and ended.latest_savepoint is not None and ended.latest_savepoint.path == savepoint
    assert newest_snapshot(client, job_id, checkpoints=False).path == savepoint  # type: ignore[union-attr]
    # (The checkpoints a stop-with-savepoint subsumes may be gone: savepoint mode restores only from savepoints.)

    dispose_savepoint(client, savepoint)
    assert not Path(savepoint.removeprefix("file:")).exists()
    assert checkpoint_stats(client, "0" * 32) is None
