"""Fixtures for the job tests: real Flink session clusters shared by the whole session, the compiled
test-job jars, and a clean slate (no job left running) between tests.

Booting a cluster takes ~6 s, so each Flink release is booted once, on first use, by `flink_clusters`
and stopped at the end of the session. Tests that share a cluster must leave no job running:
`cancel_all_jobs` is what their fixtures call afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from components.flink_config import SessionClusterConfig, parse_version, render_config_files
from components.flink_rest import TERMINAL_STATES, file_sha256
from tests.harness.flink import FLINK_RELEASES, FlinkCluster
from tests.harness.java import compile_jobs_jar

# One TaskManager with this many slots per shared cluster: enough for two small jobs side by side.
SHARED_SLOTS = 4


def cluster_files(version: str, *, slots: int = SHARED_SLOTS, extra: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The configuration files the program would render for a small session cluster of `version`."""
    return render_config_files(SessionClusterConfig(
        version=parse_version(FLINK_RELEASES.get(version, version)), java_version=17,
        jobmanager_address="127.0.0.1", task_slots=slots, jobmanager_process_memory="1024m",
        taskmanager_process_memory="1280m", default_parallelism=1, extra=dict(extra or {}),
    ))


@dataclass(frozen=True)
class JobJar:
    path: Path
    sha256: str


def jobs_jar(version: str) -> JobJar:
    path = compile_jobs_jar(version)
    return JobJar(path, file_sha256(path))


@dataclass
class SharedClusters:
    clusters: dict[str, FlinkCluster] = field(default_factory=dict)

    def get(self, version: str) -> FlinkCluster:
        if version not in self.clusters:
            cluster = FlinkCluster(version=version, files=cluster_files(version), taskmanagers=1)
            cluster.start()
            self.clusters[version] = cluster
        return self.clusters[version]

    def stop(self) -> None:
        for cluster in self.clusters.values():
            cluster.stop()
        self.clusters.clear()


def active_jobs(rest_url: str) -> list[dict[str, Any]]:
    jobs = requests.get(f"{rest_url}/jobs/overview", timeout=10).json()["jobs"]
    return [job for job in jobs if job["state"] not in TERMINAL_STATES]


def cancel_all_jobs(rest_url: str, timeout: float = 30.0) -> None:
    """Cancel every job that is not over and wait until their slots are free again."""
    for job in active_jobs(rest_url):
        requests.patch(f"{rest_url}/jobs/{job['jid']}", params={"mode": "cancel"}, timeout=10)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        overview = requests.get(f"{rest_url}/overview", timeout=10).json()
        if not active_jobs(rest_url) and overview["slots-available"] == overview["slots-total"]:
            return
        time.sleep(0.2)
    raise TimeoutError(f"jobs on {rest_url} did not stop: {active_jobs(rest_url)}")


@pytest.fixture(scope="session")
def flink_clusters() -> Iterator[SharedClusters]:
    shared = SharedClusters()
    try:
        yield shared
    finally:
        shared.stop()


# --- the gap-free sequence in PostgreSQL (tests/java_seq) ------------------------------------------------

SEQUENCE_SOURCES = Path(__file__).resolve().parents[1] / "java_seq"
SEQUENCE_WRITER = "flinkhologres.seq.SequenceWriter"
JDBC_DRIVER = Path("/usr/share/java/postgresql.jar")  # Debian's libpostgresql-jdbc-java
SEQUENCE_DDL = ("CREATE TABLE IF NOT EXISTS {table} (seq BIGINT PRIMARY KEY, version TEXT NOT NULL, "
                "written_at TIMESTAMPTZ NOT NULL, writes INT NOT NULL, rewritten_by TEXT, rewritten_at TIMESTAMPTZ)")


def sequence_jar(version: str) -> JobJar:
    path = compile_jobs_jar(version, SEQUENCE_SOURCES, [JDBC_DRIVER])
    return JobJar(path, file_sha256(path))


@dataclass(frozen=True)
class SequenceRows:
    """What the sequence table shows: rows lost are gaps below the top, rows repeated are rewrites."""

    rows: int
    top: int  # highest seq + 1
    rewrites: int  # numbers written more than once (a replay since the last checkpoint)

    @property
    def lost(self) -> int:
        return self.top - self.rows


def sequence_rows(cursor: Any, table: str) -> SequenceRows:
    cursor.execute(f"SELECT count(*), coalesce(max(seq) + 1, 0), coalesce(sum(writes - 1), 0) FROM {table}")
    rows, top, rewrites = cursor.fetchone()
    return SequenceRows(int(rows), int(top), int(rewrites))


def upgrade_gap_seconds(cursor: Any, table: str, old: str, new: str) -> float:
    """From the last write of version `old` to the first write of version `new` (the database's clock)."""
    cursor.execute(f"""
        SELECT extract(epoch FROM
            (SELECT least(min(written_at) FILTER (WHERE version = %(new)s),
                          min(rewritten_at) FILTER (WHERE rewritten_by = %(new)s)) FROM {table})
          - (SELECT greatest(max(written_at) FILTER (WHERE version = %(old)s),
                             max(rewritten_at) FILTER (WHERE rewritten_by = %(old)s)) FROM {table}))""",
                   {"old": old, "new": new})
    (gap,) = cursor.fetchone()
    return float(gap)
