"""A FlinkJob next to the resources it depends on, in the engine's order of one `pulumi up` (issue 17):
the sink table rebuilt under a running job, and a JobManager replaced in the same `up` as the job's
update. Real Flink 2.2 (the shared cluster), real PostgreSQL, pulumi's own provider host."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

from components import hologres_ddl as ddl
from components.flink_cluster_gate import ClusterReadyProvider
from components.flink_job import FlinkJobArgs, FlinkJobProvider
from components.hologres_table import identity_of
from tests.harness.engine import Engine, Registration, State
from tests.harness.flink import FlinkCluster
from tests.harness.flink_jobs import SEQUENCE_WRITER, SHARED_SLOTS, SharedClusters, cancel_all_jobs, sequence_jar
from tests.harness.hologres_tables import engine_as, table_exists, table_inputs
from tests.harness.postgres import PostgresServer
from tests.harness.provider_host import UNKNOWN, ProviderHost, resource_inputs
from tests.test_flink_job import counting_v1, counts, live_state, wait_for_counts

pytestmark = pytest.mark.flink

C = ddl.Column
# The sequence writer's table (tests/harness/flink_jobs.SEQUENCE_DDL) as a HologresTable declares it.
SEQUENCE_COLUMNS = (C("seq", "BIGINT", False), C("version", "TEXT", False), C("written_at", "TIMESTAMPTZ", False),
                    C("writes", "INT", False), C("rewritten_by", "TEXT"), C("rewritten_at", "TIMESTAMPTZ"))


@pytest.fixture
def flink22(flink_clusters: SharedClusters) -> Iterator[FlinkCluster]:
    cluster = flink_clusters.get("2.2")
    yield cluster
    cancel_all_jobs(cluster.rest_url)


def _identity(table: State) -> str:
    out = table.outputs
    return identity_of(out[ddl.SCHEMA], out[ddl.TABLE], out["generation"])


def _top(postgres: PostgresServer, database: str, table: str) -> tuple[int, int]:
    """(rows, lowest seq) of the sequence table."""
    conn = postgres.connect(database)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f"SELECT count(*), coalesce(min(seq), -1) FROM {table}")
            rows, low = cur.fetchone()
            return int(rows), int(low)
    finally:
        conn.close()


def _wait_rows(postgres: PostgresServer, database: str, table: str, at_least: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while _top(postgres, database, table)[0] < at_least:
        assert time.monotonic() < deadline, f"no rows flow into {table}"
        time.sleep(0.2)


def _max_seq(postgres: PostgresServer, database: str, table: str) -> int:
    conn = postgres.connect(database)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f"SELECT max(seq) FROM {table}")
            return int(cur.fetchone()[0])
    finally:
        conn.close()


def test_only_a_changed_or_unknown_sink_identity_replaces_the_job(provider_host: ProviderHost) -> None:
    """The job's diff (no Flink is called): the first identity a job gets (a stack from before it) only
    updates the state; a new or unknown one (the engine's dependent-replacement question) is a replace,
    unless the job runs nothing."""
    news = resource_inputs(FlinkJobProvider(), FlinkJobArgs(
        rest_url="http://127.0.0.1:9", jar_path="job.jar", jar_sha256="0" * 64, job_name="j",
        sink_identity="public.t@1").props(default_job_name="j"))
    olds = {**news, "job_id": "0" * 32, "state": "RUNNING"}
    first = provider_host.diff("j", {**olds, "sink_identity": None}, news)
    assert first.changes == "some" and first.replaces == []
    for value in ("public.t@2", UNKNOWN):
        rebuilt = provider_host.diff("j", olds, {**news, "sink_identity": value})
        assert rebuilt.replaces == ["sink_identity"] and rebuilt.delete_before_replace
    assert provider_host.diff("j", olds, news).changes == "none"
    # Nothing runs against the table while suspended: the job keeps its snapshot and resumes into the new one.
    suspended = provider_host.diff("j", {**olds, "state": "SUSPENDED"}, {**news, "sink_identity": UNKNOWN})
    assert suspended.changes == "some" and suspended.replaces == []


@pytest.mark.parametrize("wired", [False, True], ids=["dependsOn-only", "sink-identity"])
def test_a_table_rebuild_stops_the_job_first_and_restarts_it_from_its_savepoint(
        wired: bool, flink22: FlinkCluster, postgres: PostgresServer, pg_database: str,
        provider_host: ProviderHost, tmp_path: Path) -> None:
    """Defect: a table rebuild dropped the table under a running job (only a dependsOn edge). With the
    table's identity as a job input (a property dependency), the engine asks the job's diff with it
    unknown, deletes the job (stop with savepoint) before the DROP, creates the table, then re-creates the
    job, which resumes from that savepoint and writes on into the new table where the old one stopped."""
    table = f"seq_rebuild_{int(wired)}"
    spec = ddl.TableSpec("public", table, SEQUENCE_COLUMNS, ("seq",))
    rebuilt = ddl.TableSpec("public", table, tuple(C(c.name, "BIGINT", False) if c.name == "writes" else c
                                                   for c in SEQUENCE_COLUMNS), ("seq",))
    jar = sequence_jar("2.2")
    url = f"jdbc:postgresql://127.0.0.1:{postgres.port}/{pg_database}"
    job = FlinkJobArgs(rest_url=flink22.rest_url, jar_path=str(jar.path), jar_sha256=jar.sha256,
                       entry_class=SEQUENCE_WRITER, args=[url, postgres.user, postgres.password, table, "v1", "5"],
                       parallelism=1, upgrade_mode="savepoint", savepoint_dir=str(tmp_path / "savepoints"),
                       job_name=f"rebuild-{wired}-{time.time_ns()}", job_stable_seconds=1,
                       start_deadline_seconds=60, savepoint_deadline_seconds=60).props(default_job_name="seq")

    def job_news(snapshot: Mapping[str, State]) -> dict[str, Any]:
        return resource_inputs(FlinkJobProvider(), {**job, "sink_identity": _identity(snapshot["table"])}
                               if wired else job)

    def program(declared: ddl.TableSpec) -> list[Registration]:
        return [Registration("table", table_inputs(postgres, pg_database, declared, dropTableOnDestroy=True)),
                Registration("job", job_news, {"sink_identity": ["table"]} if wired else {})]

    engine = engine_as(provider_host, postgres.user, postgres.password)
    engine.up_program(program(spec))
    before, old_table = engine.state("job"), engine.state("table")
    assert before is not None and old_table is not None and live_state(flink22, before.outputs["job_id"]) == "RUNNING"
    _wait_rows(postgres, pg_database, table, 100)

    at_drop: dict[str, Any] = {}

    def look(resource: str, method: str) -> None:
        if (resource, method) == ("table", "delete"):  # right before the DROP
            at_drop["job"] = live_state(flink22, before.outputs["job_id"])
            at_drop["last_seq"] = _max_seq(postgres, pg_database, table)

    engine.before_call = look
    first = len(engine.calls)
    after = engine.up_program(program(rebuilt))
    calls = engine.calls[first:]
    assert table_exists(postgres, pg_database, table)
    assert after["table"].outputs["generation"] != old_table.outputs["generation"]  # a new table
    if not wired:
        # The old wiring: the job is never asked, never stopped; it runs while its table is dropped.
        assert ("job", "delete") not in calls and at_drop["job"] == "RUNNING"
        assert after["job"].outputs["job_id"] == before.outputs["job_id"]
        return
    assert calls == [("table", "check"), ("table", "diff"), ("table", "check"), ("job", "diff"), ("job", "delete"),
                     ("table", "delete"), ("table", "create"), ("job", "check"), ("job", "create")]
    assert at_drop["job"] == "FINISHED"  # stopped with a savepoint before the DROP
    new = after["job"].outputs
    assert new["job_id"] != before.outputs["job_id"] and live_state(flink22, new["job_id"]) == "RUNNING"
    assert new["restored_from"] and str(tmp_path / "savepoints") in new["restored_from"]
    assert after["job"].inputs["sink_identity"] == _identity(after["table"]) != before.inputs["sink_identity"]
    # Rows flow into the new table, from where the old one stopped: restored state, nothing lost or repeated.
    _wait_rows(postgres, pg_database, table, 50)
    assert _top(postgres, pg_database, table)[1] == at_drop["last_seq"] + 1
    engine.destroy("job")


def test_the_gate_waits_for_the_new_jobmanager_before_the_job_is_updated(
        flink22: FlinkCluster, provider_host: ProviderHost, tmp_path: Path) -> None:
    """Item 7: an `up` that replaces the JobManager (pods roll, without HA) and carries the new cluster
    revision to the gate and the job. The job depends on the gate, so the engine runs the gate's update
    first, which blocks until the new JobManager has its TaskManager; only then the job's update, which
    finds its job forgotten and resubmits it from its last savepoint."""
    engine = Engine(provider_host)

    def gate(revision: str) -> Registration:
        return Registration("gate", resource_inputs(ClusterReadyProvider(), {
            "rest_url": flink22.rest_url, "namespace": "flink", "jobmanager_deployment": "flink-jobmanager",
            "taskmanager_deployment": "flink-taskmanager", "expected_taskmanagers": 1,
            "expected_slots": SHARED_SLOTS, "config_checksum": revision, "cluster_revision": revision,
            "deadline_seconds": 90}))

    news, state, out, _ = counting_v1(flink22, engine, "job", tmp_path, cluster_revision="r1")
    engine.up_program([gate("r1")])
    news = {**news, "args": [str(out), "v2", "4", "2"]}
    savepoint = engine.up("job", news).outputs["last_savepoint"]
    wait_for_counts(out, "v2", 20)

    seen: dict[str, Any] = {}

    def look(resource: str, method: str) -> None:
        try:
            taskmanagers = requests.get(f"{flink22.rest_url}/overview", timeout=2).json()["taskmanagers"]
        except (requests.RequestException, ValueError):
            taskmanagers = None  # the JobManager is not answering yet
        seen[f"{resource} {method}"] = taskmanagers

    # The roll: a new JobManager first, its TaskManager a few seconds later.
    flink22.restart(wait=False, with_taskmanagers=False)
    threading.Timer(3.0, flink22.start_taskmanager, args=(0,)).start()
    engine.before_call = look
    first = len(engine.calls)
    done = engine.up_program([gate("r2"), Registration("job", {**news, "cluster_revision": "r2"})])
    assert engine.calls[first:] == [("gate", "check"), ("gate", "diff"), ("gate", "update"),
                                    ("job", "check"), ("job", "diff"), ("job", "update")]
    assert seen["gate update"] in (None, 0)  # the gate started before the cluster was whole…
    assert seen["job check"] == 1 and done["gate"].outputs["taskmanagers"] == 1  # …and the job after it
    rolled = done["job"].outputs
    assert rolled["restored_from"] == savepoint and live_state(flink22, rolled["job_id"]) == "RUNNING"
    wait_for_counts(out, "v2", sum(1 for c in counts(out) if c.label == "v2") + 20)
    engine.destroy("job")
