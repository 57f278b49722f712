"""The whole pipeline as `pulumi up` runs it, as far as this machine can run it.

`__main__.py` runs under the Pulumi SDK mocks with a test stack whose Hologres endpoint is a real
PostgreSQL and whose Flink REST URL is a real Flink session cluster, booted from the ConfigMap the
program rendered, with the TaskManager environment the program's Secret holds. The dynamic
resources' inputs, exactly as the program registered them, then go through pulumi's own provider
host in the engine's order: the table, then the job (it depends on the table). The job is a data
generator with the tutorial's schema that reads the tutorial's HOLO_* variables and writes with the
plain PostgreSQL JDBC driver; each row's user_id is a sequence number.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
import pytest
import requests

from components.flink_job import FlinkJobArgs, FlinkJobProvider
from tests.harness import REPO_ROOT, free_port
from tests.harness import hologres_emulation as emulation
from tests.harness.engine import Engine
from tests.harness.flink import FlinkCluster
from tests.harness.flink_jobs import (
    JDBC_DRIVER,
    SEQUENCE_DDL,
    SEQUENCE_WRITER,
    SharedClusters,
    cancel_all_jobs,
    sequence_jar,
    sequence_rows,
    upgrade_gap_seconds,
)
from tests.harness.java import compile_jobs_jar
from tests.harness.postgres import PostgresServer
from tests.harness.program import ProgramRun, run_program
from tests.harness.provider_host import ProviderHost, resource_inputs
from tests.harness.rest_proxy import RestProxyServer

pytestmark = [pytest.mark.flink, pytest.mark.postgres]

E2E_SOURCES = REPO_ROOT / "tests" / "java_e2e"
GENERATOR = "flinkhologres.e2e.OrderGenerator"
TABLE = "pulumi-python:dynamic/hologres:Table"
WRITER = "pulumi-python:dynamic/hologres:Writer"
REST_PASSWORD = "e2e-rest-password-0123456789abcdef"
JOB = "pulumi-python:dynamic/flink:Job"


def _rows(postgres: PostgresServer, database: str) -> tuple[int, int, int]:
    """(rows, distinct sequence numbers, highest sequence number + 1)."""
    with postgres.connect(database, admin=True) as conn, conn.cursor() as cur:  # the admin made the table
        cur.execute("SELECT count(*), count(DISTINCT user_id), coalesce(max(user_id) + 1, 0) FROM public.order_details")
        rows, distinct, top = cur.fetchone()
    conn.close()
    return int(rows), int(distinct), int(top)


def _wait_for_rows(postgres: PostgresServer, database: str, at_least: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while (count := _rows(postgres, database)[0]) < at_least:
        assert time.monotonic() < deadline, f"only {count} rows arrived, expected {at_least}"
        time.sleep(0.2)
    return count


def _inputs(run: ProgramRun, type_: str, gate: RestProxyServer | None = None) -> dict[str, Any]:
    """A dynamic resource's inputs as the program registered them, as the engine passes them on to a
    provider that does not accept secrets (Configure answered acceptSecrets=false): unwrapped. For the
    job, the REST proxy's real CA and password replace the mocks' stand-ins."""
    inputs = run.one(type_).plain()
    if gate is not None:
        inputs.update(rest_ca_pem=gate.ca_pem, rest_password=REST_PASSWORD)
    return inputs


def test_program_to_rows_upgrade_without_loss_and_destroy_keeps_the_data(
        postgres: PostgresServer, pg_database: str, provider_host: ProviderHost, tmp_path: Path) -> None:
    jar = compile_jobs_jar("1.20", E2E_SOURCES, [JDBC_DRIVER])
    emulation.install(postgres, pg_database, "Hologres 1.3.61")  # the table provider meets Hologres' rules
    rest_port, proxy_port = free_port(), free_port()
    writer_login = f"e2e_writer_{uuid.uuid4().hex[:8]}"
    state = tmp_path / "state"
    stack = {
        "target": "kubeconfig", "flinkImage": "flink:1.20.3-java17",
        "taskManagers": "1", "taskSlots": "4", "defaultParallelism": "1",
        "jobManagerMemory": "1024m", "taskManagerMemory": "1280m",
        "hologresEndpoint": f"127.0.0.1:{postgres.port}", "hologresDatabase": pg_database,
        "hologresTable": "public.order_details", "hologresSslMode": "disable",  # the test server has no TLS
        # The job goes through the authenticating proxy (the program turns the URL into https).
        "flinkRestUrl": f"http://127.0.0.1:{proxy_port}", "stateStorage": f"file://{state}",
        "hologresWriterLogin": writer_login,
        "jobJar": str(jar), "jobEntryClass": GENERATOR, "jobArgs": ["10"], "jobParallelism": "1",
        "jobUpgradeMode": "savepoint", "jobStartDeadlineSeconds": "120",
    }
    # The admin creates the job's login: the server's superuser here, as on Hologres.
    admin = psycopg2.extensions.parse_dsn(postgres.admin_dsn)
    secrets = {"hologresUser": admin["user"], "hologresPassword": admin["password"]}
    first = run_program(stack, secrets=secrets)
    assert first.error is None, first.raw
    files = first.one("kubernetes:core/v1:ConfigMap").plain()["data"]
    env = first.one("kubernetes:core/v1:Secret", "flink-env").plain()["stringData"]
    assert first.outputs["flinkRestUrl"] == f"https://127.0.0.1:{proxy_port}"
    # The pods hold the writer's login (its generated password, a mock's stand-in here), never the admin's.
    assert env["HOLO_ACCESS_ID"] == writer_login and admin["password"] not in env.values()
    assert env["HOLO_TABLE_NAME"] == "public.order_details" == first.outputs["hologresTable"]
    assert f"state.savepoints.dir: file://{state}/savepoints" in files["config.yaml"]

    # `pulumi up`: the engine configures the provider host with the stack's config (secrets included).
    engine = Engine(provider_host, config={f"flink-hologres:{k}": v for k, v in secrets.items()})
    engine.up("order-details", _inputs(first, TABLE))
    assert engine.last_calls == ["check", "create"]
    writer = engine.up("hologres-writer", _inputs(first, WRITER))
    assert writer.id == writer.outputs["loginName"] == f"BASIC${writer_login}"  # a Hologres custom account
    # The engine resolves the writer's login name into the pods' Secret (the mocks could only guess it).
    env = {**env, "HOLO_ACCESS_ID": writer.outputs["loginName"]}

    with FlinkCluster(version="1.20", files=files, taskmanagers=1, taskmanager_env=env,
                      rest_port=rest_port) as cluster, RestProxyServer(
            upstream_port=rest_port, user=first.outputs["flinkUiUser"], password=REST_PASSWORD,
            port=proxy_port) as gate:
        job = engine.up("job-main", _inputs(first, JOB, gate))
        assert job.outputs["state"] == "RUNNING"
        _wait_for_rows(postgres, pg_database, 40)

        # A parallelism change is an upgrade through a savepoint under the configured state directory.
        second = run_program({**stack, "jobParallelism": "2"}, secrets=secrets)
        assert second.error is None, second.raw
        engine.up("order-details", _inputs(second, TABLE))
        assert engine.last_calls == ["check", "diff"]
        job = engine.up("job-main", _inputs(second, JOB, gate))
        assert engine.last_calls == ["check", "diff", "update"]
        assert job.outputs["last_savepoint"].startswith(f"file:{state}/savepoints/")
        before = _rows(postgres, pg_database)[0]
        _wait_for_rows(postgres, pg_database, before + 40)

        # Secret hygiene: neither the job's password nor the REST password shows in Flink's REST views.
        (tmp_path / "ca.pem").write_text(gate.ca_pem)
        views = [requests.get(f"{gate.url}{path}", verify=str(tmp_path / "ca.pem"), auth=(gate.user, REST_PASSWORD),
                              timeout=10).text
                 for path in ("/jobmanager/config", f"/jobs/{job.outputs['job_id']}/config", "/taskmanagers")]
        # `pulumi destroy`: the job first (it depends on the table), then the table, which keeps its rows.
        engine.destroy_all(["job-main", "hologres-writer", "order-details"])
        stopped = _rows(postgres, pg_database)
        time.sleep(1.0)
        assert _rows(postgres, pg_database) == stopped  # nothing writes any more
        assert cluster.overview()["jobs-running"] == 0
        logs = cluster.logs() + gate.logs()
    for secret in (env["HOLO_ACCESS_KEY"], REST_PASSWORD, admin["password"]):
        assert all(secret not in view for view in views) and secret not in logs

    rows, distinct, top = stopped
    with postgres.connect(pg_database, admin=True) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (writer_login,))
        assert cur.fetchone()[0] == 0  # destroy dropped the login; the rows stay
    conn.close()
    # Every sequence number from 0 up is there exactly once: nothing lost or repeated by the upgrade.
    assert rows == distinct == top > 80


# --- upgrade modes against a gap-free sequence ------------------------------------------------------------

LAST_STATE = {"execution.checkpointing.interval": "500 ms",
              "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION"}


@pytest.mark.parametrize("mode", ["savepoint", "last-state", "stateless"])
def test_upgrade_modes_lose_nothing_and_last_state_replays_only_since_its_checkpoint(
        mode: str, flink_clusters: SharedClusters, postgres: PostgresServer, pg_database: str,
        provider_host: ProviderHost, tmp_path: Path) -> None:
    """A job with keyed state writes 0, 1, 2, … into PostgreSQL; an upgrade in each mode. savepoint: no row
    lost, none written twice. last-state: no row lost; what the old version wrote after its newest
    checkpoint is written again (an idempotent sink absorbs it; the count is measured). stateless: the
    source starts over, so everything is written again (the documented loss of state)."""
    cluster = flink_clusters.get("2.2")
    jar = sequence_jar("2.2")
    table = f"seq_{mode.replace('-', '_')}"
    conn = postgres.connect(pg_database)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(SEQUENCE_DDL.format(table=table))
    url = f"jdbc:postgresql://127.0.0.1:{postgres.port}/{pg_database}"

    def args(version: str) -> list[str]:
        return [url, postgres.user, postgres.password, table, version, "5", "64", "1024"]

    config = {**LAST_STATE, "execution.checkpointing.dir": f"file://{tmp_path / 'checkpoints'}"}
    news = resource_inputs(FlinkJobProvider(), FlinkJobArgs(
        rest_url=cluster.rest_url, jar_path=str(jar.path), jar_sha256=jar.sha256, entry_class=SEQUENCE_WRITER,
        args=args("v1"), parallelism=2, upgrade_mode=mode, savepoint_dir=str(tmp_path / "savepoints"),
        flink_configuration=config if mode == "last-state" else {}, job_name=f"seq-{mode}-{time.time_ns()}",
        job_stable_seconds=1, require_checkpoint=mode == "last-state", start_deadline_seconds=60,
        savepoint_deadline_seconds=60).props(default_job_name="seq"))
    engine = Engine(provider_host)
    try:
        engine.up("seq", news)
        _wait_for(cur, table, 150)
        engine.up("seq", {**news, "args": args("v2")})
        before = sequence_rows(cur, table).top
        _wait_for(cur, table, before + 150)
        engine.destroy("seq")
        rows = sequence_rows(cur, table)
        gap = upgrade_gap_seconds(cur, table, "v1", "v2")
    finally:
        cancel_all_jobs(cluster.rest_url)
        conn.close()
    print(f"\nMEASURED mode={mode} rows={rows.rows} lost={rows.lost} rewritten={rows.rewrites} gap_s={gap:.2f}")
    assert rows.lost == 0 and rows.rows > 300
    if mode == "savepoint":
        assert rows.rewrites == 0
    elif mode == "last-state":
        assert 0 <= rows.rewrites < 150  # only what followed the newest checkpoint (500 ms apart)
    else:
        assert rows.rewrites >= 150  # started over from 0: the state was dropped
    assert 0 < gap < 30


def _wait_for(cur: Any, table: str, top: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while sequence_rows(cur, table).top < top:
        assert time.monotonic() < deadline, f"the sequence in {table} stopped below {top}"
        time.sleep(0.2)
