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

from tests.harness import REPO_ROOT, free_port
from tests.harness import hologres_emulation as emulation
from tests.harness.flink import FlinkCluster
from tests.harness.java import compile_jobs_jar
from tests.harness.postgres import PostgresServer
from tests.harness.program import ProgramRun, run_program
from tests.harness.provider_host import ProviderHost, engine_destroy, engine_up
from tests.harness.rest_proxy import RestProxyServer

pytestmark = [pytest.mark.flink, pytest.mark.postgres]

E2E_SOURCES = REPO_ROOT / "tests" / "java_e2e"
JDBC_DRIVER = Path("/usr/share/java/postgresql.jar")  # Debian's libpostgresql-jdbc-java
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
    provider_host.configure({f"flink-hologres:{k}": v for k, v in secrets.items()})
    table = engine_up(provider_host, "order-details", _inputs(first, TABLE))
    assert table.steps == ["check", "create"]
    writer = engine_up(provider_host, "hologres-writer", _inputs(first, WRITER))
    assert writer.id == writer.outputs["loginName"] == f"BASIC${writer_login}"  # a Hologres custom account
    # The engine resolves the writer's login name into the pods' Secret (the mocks could only guess it).
    env = {**env, "HOLO_ACCESS_ID": writer.outputs["loginName"]}

    with FlinkCluster(version="1.20", files=files, taskmanagers=1, taskmanager_env=env,
                      rest_port=rest_port) as cluster, RestProxyServer(
            upstream_port=rest_port, user=first.outputs["flinkUiUser"], password=REST_PASSWORD,
            port=proxy_port) as gate:
        job = engine_up(provider_host, "job-main", _inputs(first, JOB, gate))
        assert job.outputs["state"] == "RUNNING"
        _wait_for_rows(postgres, pg_database, 40)

        # A parallelism change is an upgrade through a savepoint under the configured state directory.
        second = run_program({**stack, "jobParallelism": "2"}, secrets=secrets)
        assert second.error is None, second.raw
        assert engine_up(provider_host, "order-details", _inputs(second, TABLE), table).steps == ["check", "diff"]
        job = engine_up(provider_host, "job-main", _inputs(second, JOB, gate), job)
        assert job.steps == ["check", "diff", "update"]
        assert job.outputs["last_savepoint"].startswith(f"file:{state}/savepoints/")
        before = _rows(postgres, pg_database)[0]
        _wait_for_rows(postgres, pg_database, before + 40)

        # Secret hygiene: neither the job's password nor the REST password shows in Flink's REST views.
        (tmp_path / "ca.pem").write_text(gate.ca_pem)
        views = [requests.get(f"{gate.url}{path}", verify=str(tmp_path / "ca.pem"), auth=(gate.user, REST_PASSWORD),
                              timeout=10).text
                 for path in ("/jobmanager/config", f"/jobs/{job.outputs['job_id']}/config", "/taskmanagers")]
        # `pulumi destroy`: the job first (it depends on the table), then the table, which keeps its rows.
        engine_destroy(provider_host, job)
        engine_destroy(provider_host, writer)
        engine_destroy(provider_host, table)
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
