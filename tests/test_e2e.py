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
from pathlib import Path
from typing import Any

import pytest

from tests.harness import REPO_ROOT, free_port
from tests.harness import hologres_emulation as emulation
from tests.harness.flink import FlinkCluster
from tests.harness.java import compile_jobs_jar
from tests.harness.postgres import PostgresServer
from tests.harness.program import ProgramRun, run_program
from tests.harness.provider_host import ProviderHost, engine_destroy, engine_up

pytestmark = [pytest.mark.flink, pytest.mark.postgres]

E2E_SOURCES = REPO_ROOT / "tests" / "java_e2e"
JDBC_DRIVER = Path("/usr/share/java/postgresql.jar")  # Debian's libpostgresql-jdbc-java
GENERATOR = "flinkhologres.e2e.OrderGenerator"
TABLE = "pulumi-python:dynamic/hologres:Table"
JOB = "pulumi-python:dynamic/flink:Job"


def _rows(postgres: PostgresServer, database: str) -> tuple[int, int, int]:
    """(rows, distinct sequence numbers, highest sequence number + 1)."""
    with postgres.connect(database) as conn, conn.cursor() as cur:
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


def _inputs(run: ProgramRun, type_: str) -> dict[str, Any]:
    """A dynamic resource's inputs as the program registered them, as the engine passes them on to a
    provider that does not accept secrets (Configure answered acceptSecrets=false): unwrapped."""
    return run.one(type_).plain()


def test_program_to_rows_upgrade_without_loss_and_destroy_keeps_the_data(
        postgres: PostgresServer, pg_database: str, provider_host: ProviderHost, tmp_path: Path) -> None:
    jar = compile_jobs_jar("1.20", E2E_SOURCES, [JDBC_DRIVER])
    emulation.install(postgres, pg_database, "Hologres 1.3.61")  # the table provider meets Hologres' rules
    rest_port = free_port()
    state = tmp_path / "state"
    stack = {
        "target": "kubeconfig", "flinkImage": "flink:1.20.3-java17",
        "taskManagers": "1", "taskSlots": "4", "defaultParallelism": "1",
        "jobManagerMemory": "1024m", "taskManagerMemory": "1280m",
        "hologresEndpoint": f"127.0.0.1:{postgres.port}", "hologresDatabase": pg_database,
        "hologresTable": "public.order_details", "hologresSslMode": "disable",  # the test server has no TLS
        "flinkRestUrl": f"http://127.0.0.1:{rest_port}", "stateStorage": f"file://{state}",
        "jobJar": str(jar), "jobEntryClass": GENERATOR, "jobArgs": ["10"], "jobParallelism": "1",
        "jobUpgradeMode": "savepoint", "jobStartDeadlineSeconds": "120",
    }
    secrets = {"hologresUser": postgres.user, "hologresPassword": postgres.password}
    first = run_program(stack, secrets=secrets)
    assert first.error is None, first.raw
    files = first.one("kubernetes:core/v1:ConfigMap").plain()["data"]
    env = first.one("kubernetes:core/v1:Secret").plain()["stringData"]
    assert env["HOLO_TABLE_NAME"] == "public.order_details" == first.outputs["hologresTable"]
    assert f"state.savepoints.dir: file://{state}/savepoints" in files["config.yaml"]

    with FlinkCluster(version="1.20", files=files, taskmanagers=1, taskmanager_env=env,
                      rest_port=rest_port) as cluster:
        # `pulumi up`: the engine configures the provider host with the stack's config (secrets included).
        provider_host.configure({f"flink-hologres:{k}": v for k, v in secrets.items()})
        table = engine_up(provider_host, "order-details", _inputs(first, TABLE))
        assert table.steps == ["check", "create"]
        job = engine_up(provider_host, "job-main", _inputs(first, JOB))
        assert job.outputs["state"] == "RUNNING"
        _wait_for_rows(postgres, pg_database, 40)

        # A parallelism change is an upgrade through a savepoint under the configured state directory.
        second = run_program({**stack, "jobParallelism": "2"}, secrets=secrets)
        assert second.error is None, second.raw
        assert engine_up(provider_host, "order-details", _inputs(second, TABLE), table).steps == ["check", "diff"]
        job = engine_up(provider_host, "job-main", _inputs(second, JOB), job)
        assert job.steps == ["check", "diff", "update"]
        assert job.outputs["last_savepoint"].startswith(f"file:{state}/savepoints/")
        before = _rows(postgres, pg_database)[0]
        _wait_for_rows(postgres, pg_database, before + 40)

        # `pulumi destroy`: the job first (it depends on the table), then the table, which keeps its rows.
        engine_destroy(provider_host, job)
        engine_destroy(provider_host, table)
        stopped = _rows(postgres, pg_database)
        time.sleep(1.0)
        assert _rows(postgres, pg_database) == stopped  # nothing writes any more
        assert cluster.overview()["jobs-running"] == 0

    rows, distinct, top = stopped
    # Every sequence number from 0 up is there exactly once: nothing lost or repeated by the upgrade.
    assert rows == distinct == top > 80
