"""Benchmark of job upgrades and rollback through pulumi's provider host, real Flink and PostgreSQL; prints JSON.

    venv/bin/python bench/flink_job_lifecycle_bench.py [--version 2.2] [--state-mb 100] [--rows 300]

A job with keyed state (hashmap backend: the PyPI distribution has no RocksDB native library) writes a
gap-free sequence into PostgreSQL (tests/java_seq SequenceWriter: one committed row per number, the
database's clock as written_at, rewrites counted). For each state size (about 0 and `--state-mb`) and
each upgrade mode (savepoint, last-state, stateless), one upgrade v1 → v2 through the engine-order
harness, measuring:
- the data gap: the last row v1 wrote to the first row v2 wrote (the rows' own timestamps);
- rows lost (gaps in the sequence) and rows written again (what a checkpoint restore replays);
- the wall time of the `pulumi up` step (Update);
and, per size, `last-state gap / savepoint gap`. Then a rollback: an upgrade to a version that fails
after it started (it writes to a table that does not exist), timed until `up` fails with the previous
version running again.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from components.flink_config import SessionClusterConfig, parse_version, render_config_files  # noqa: E402
from components.flink_job import FlinkJobArgs, FlinkJobProvider  # noqa: E402
from tests.harness.engine import Engine  # noqa: E402
from tests.harness.flink import FLINK_RELEASES, FlinkCluster  # noqa: E402
from tests.harness.flink_jobs import (  # noqa: E402
    SEQUENCE_DDL,
    SEQUENCE_WRITER,
    active_jobs,
    cancel_all_jobs,
    sequence_jar,
    sequence_rows,
    upgrade_gap_seconds,
)
from tests.harness.postgres import PostgresServer, postgres  # noqa: E402
from tests.harness.provider_host import ProviderError, ProviderHost, resource_inputs  # noqa: E402

MODES = ("savepoint", "last-state", "stateless")
KEYS = 256  # keyed state: KEYS keys × (state bytes / KEYS)
LAST_STATE = {"execution.checkpointing.interval": "2 s",
              "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION"}


def wait_top(cur: Any, table: str, top: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while sequence_rows(cur, table).top < top:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{table} stayed below {top}")
        time.sleep(0.2)


def one_upgrade(engine: Engine, cluster: FlinkCluster, server: PostgresServer, database: str, cur: Any,
                mode: str, state_bytes: int, rows: int, work: Path) -> dict[str, Any]:
    table = f"seq_{mode.replace('-', '_')}_{state_bytes}"
    cur.execute(SEQUENCE_DDL.format(table=table))
    url = f"jdbc:postgresql://127.0.0.1:{server.port}/{database}"
    jar = sequence_jar(cluster.version)

    def args(version: str, into: str = table) -> list[str]:
        return [url, server.user, server.password, into, version, "5", str(KEYS), str(max(state_bytes // KEYS, 1))]

    # File checkpoint storage for every mode (as stateStorage gives the cluster): the JobManager's memory
    # storage refuses snapshots above 5 MB, savepoints included.
    storage = {"execution.checkpointing.dir": f"file://{work / table / 'checkpoints'}"}
    config = {**storage, **LAST_STATE} if mode == "last-state" else storage
    news = resource_inputs(FlinkJobProvider(), FlinkJobArgs(
        rest_url=cluster.rest_url, jar_path=str(jar.path), jar_sha256=jar.sha256, entry_class=SEQUENCE_WRITER,
        args=args("v1"), parallelism=2, upgrade_mode=mode, savepoint_dir=str(work / table / "savepoints"),
        flink_configuration=config, job_name=f"bench-{table}-{time.time_ns()}",
        job_stable_seconds=2, require_checkpoint=mode == "last-state", start_deadline_seconds=180,
        savepoint_deadline_seconds=300, max_checkpoint_age_seconds=60).props(default_job_name=table))
    engine.up(table, news)
    wait_top(cur, table, rows + KEYS)  # every key has its state before the upgrade
    started = time.monotonic()
    engine.up(table, {**news, "args": args("v2")})
    update_s = time.monotonic() - started
    wait_top(cur, table, sequence_rows(cur, table).top + rows)
    result: dict[str, Any] = {}
    if mode != "stateless":
        # A broken v3 (its table does not exist): it starts, fails on its first write, and is rolled back.
        started = time.monotonic()
        try:
            engine.up(table, {**news, "args": args("v3", "no_such_table")})
        except ProviderError as error:
            result["rollback_s"] = round(time.monotonic() - started, 2)
            result["rollback_message_ok"] = "the previous version is running again" in error.last_line
        result["rollback_running"] = [j["name"] for j in active_jobs(cluster.rest_url)]
    engine.destroy(table)
    seq = sequence_rows(cur, table)
    return {**result, "mode": mode, "state_mb": round(state_bytes / 2**20, 1), "update_s": round(update_s, 2),
            "gap_s": round(upgrade_gap_seconds(cur, table, "v1", "v2"), 3), "rows": seq.rows, "lost": seq.lost,
            "written_again": seq.rewrites}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--version", default="2.2")
    parser.add_argument("--state-mb", type=int, default=100)
    parser.add_argument("--rows", type=int, default=300)
    # Flink's cache of checkpoint statistics (default: web.refresh-interval, 3 s): last-state waits it out.
    parser.add_argument("--stats-cache-ms", type=int, default=0, help="0 keeps Flink's default")
    options = parser.parse_args()
    server_gen = postgres.__wrapped__()  # the tests' PostgreSQL, outside pytest
    server = next(server_gen)
    database = server.create_database()
    conn = server.connect(database)
    conn.autocommit = True
    cur = conn.cursor()
    # cluster_files' sizes, with room for the keyed state on the TaskManager's heap.
    files = render_config_files(SessionClusterConfig(
        version=parse_version(FLINK_RELEASES.get(options.version, options.version)), java_version=17,
        jobmanager_address="127.0.0.1", task_slots=4, jobmanager_process_memory="1024m",
        taskmanager_process_memory="3072m", default_parallelism=1,
        extra={"rest.cache.checkpoint-statistics.timeout": f"{options.stats_cache_ms} ms"} if options.stats_cache_ms
        else {}))
    results = []
    host = ProviderHost.start()
    try:
        with tempfile.TemporaryDirectory(prefix="lifecycle-bench-") as work, FlinkCluster(
                version=options.version, files=files, taskmanagers=1, fast_start=False) as cluster:
            engine = Engine(host)
            for state_bytes in (KEYS * 64, options.state_mb * 2**20):
                for mode in MODES:
                    results.append(one_upgrade(engine, cluster, server, database, cur, mode, state_bytes,
                                               options.rows, Path(work)))
                    cancel_all_jobs(cluster.rest_url)
    finally:
        host.stop()
        conn.close()
        next(server_gen, None)
    ratios = {}
    for size in sorted({r["state_mb"] for r in results}):
        gaps = {r["mode"]: r["gap_s"] for r in results if r["state_mb"] == size}
        ratios[f"last_state_over_savepoint_gap_at_{size}mb"] = round(gaps["last-state"] / gaps["savepoint"], 3)
    print(json.dumps({"flink": options.version, "stats_cache_ms": options.stats_cache_ms or "default (3000)",
                      "results": results, "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
