"""A real Flink (JobManager + TaskManager) booted from the program's rendered ConfigMap (reporter on by default,
a file:// state location): both endpoints scraped while a checkpointing job runs, and every metric the
dashboard queries is in that scrape; then the job is stopped with a savepoint without a target directory,
to see where its checkpoints and savepoint landed. One cluster per release, shared by the tests of this module."""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components import flink_metrics
from components.flink_rest import FlinkRestClient, file_sha256
from tests.harness import REPO_ROOT
from tests.harness.flink import FLINK_RELEASES, FlinkCluster
from tests.harness.java import COUNTING_JOB, compile_jobs_jar
from tests.harness.program import run_program
from tests.harness.prometheus import Sample, scrape
from tests.test_flink_boot import IMAGES
from tests.test_program_flink import KUBECONFIG, SECRETS

DASHBOARD = REPO_ROOT / "dashboards" / "flink-hologres.json"
SLOTS = 2
JOB_LABEL = "scraped"


@dataclass
class Scrape:
    version: str
    jobmanager: list[Sample]
    taskmanager: list[Sample]
    state: Path  # the configured stateStorage
    checkpoints: list[Path]  # the chk-* directories of the running job
    savepoint: str  # from a stop-with-savepoint without a target directory

    @property
    def names(self) -> set[str]:
        return {s.name for s in self.jobmanager + self.taskmanager}

    def values(self, name: str) -> list[float]:
        return [s.value for s in self.jobmanager + self.taskmanager if s.name == name]


def _value(samples: list[Sample], name: str) -> float | None:
    found = [s.value for s in samples if s.name == name]
    return max(found) if found else None


@pytest.fixture(scope="module", params=sorted(FLINK_RELEASES))
def scraped(request: pytest.FixtureRequest) -> Iterator[Scrape]:
    version = request.param
    work = Path(tempfile.mkdtemp(prefix="flink-metrics-"))
    # The program's own ConfigMap with its defaults (the reporter is on unless metricsPort is 0).
    run = run_program({**KUBECONFIG, "flinkImage": IMAGES[version], "taskManagers": "1", "taskSlots": str(SLOTS),
                       "defaultParallelism": "1", "jobManagerMemory": "1024m", "taskManagerMemory": "1280m",
                       "stateStorage": f"file://{work}/state",
                       "flinkConfig": {"execution.checkpointing.interval": "1s"}}, secrets=SECRETS)
    assert run.error is None, run.raw
    files = run.one("kubernetes:core/v1:ConfigMap").plain()["data"]
    assert any(f"metrics.reporter.prom.port: {quote}{flink_metrics.DEFAULT_METRICS_PORT}{quote}" in text
               for text in files.values() for quote in ("", "'"))
    jar = compile_jobs_jar(version)
    with FlinkCluster(version=version, files=files, taskmanagers=1, work_dir=work) as cluster, \
            FlinkRestClient(cluster.rest_url) as client:
        jar_id = client.ensure_jar(jar, file_sha256(jar)).jar_id
        job_id = client.run_jar(jar_id, entry_class=COUNTING_JOB, args=[str(work / "out"), JOB_LABEL])
        # Until the job has checkpointed twice and records flowed (the reporter serves live values).
        deadline = time.monotonic() + 90
        while True:
            jobmanager = scrape(cluster.metrics_url("jobmanager"))
            taskmanager = scrape(cluster.metrics_url("taskmanager-0"))
            checkpoints = _value(jobmanager, "flink_jobmanager_job_numberOfCompletedCheckpoints") or 0
            records = _value(taskmanager, "flink_taskmanager_job_task_operator_numRecordsOut") or 0
            if checkpoints >= 2 and records > 0:
                break
            assert time.monotonic() < deadline, f"no checkpoints/records in 90 s:\n{cluster.logs()[-3000:]}"
            time.sleep(1)
        checkpoints = sorted((work / "state" / "checkpoints" / job_id).glob("chk-*"))
        savepoint = client.stop_with_savepoint(job_id, None, 60)  # no target directory: the configured one
    yield Scrape(version, jobmanager, taskmanager, work / "state", checkpoints, savepoint)


def test_both_endpoints_export_the_core_series_with_sane_values(scraped: Scrape) -> None:
    jm, tm = scraped.jobmanager, scraped.taskmanager
    assert _value(jm, "flink_jobmanager_numRegisteredTaskManagers") == 1
    assert _value(jm, "flink_jobmanager_taskSlotsTotal") == SLOTS
    assert _value(jm, "flink_jobmanager_taskSlotsAvailable") == SLOTS - 1  # the job holds one slot
    assert _value(jm, "flink_jobmanager_numRunningJobs") == 1
    uptime = [s for s in jm if s.name == "flink_jobmanager_job_uptime"]
    assert len(uptime) == 1 and uptime[0].labels["job_name"] == f"counting_job_{JOB_LABEL}"
    assert 0 < uptime[0].value < 120_000  # milliseconds since the job started
    assert _value(jm, "flink_jobmanager_job_numRestarts") == 0
    assert (_value(jm, "flink_jobmanager_job_numberOfCompletedCheckpoints") or 0) >= 2
    # Checkpoints triggered while the tasks still start count as failed (how many depends on the machine's load).
    assert (_value(jm, "flink_jobmanager_job_numberOfFailedCheckpoints") or 0) >= 0
    assert _value(jm, "flink_jobmanager_job_numberOfFailedCheckpoints") is not None
    assert (_value(jm, "flink_jobmanager_job_lastCheckpointSize") or 0) > 0  # keyed + operator state
    assert (_value(tm, "flink_taskmanager_job_task_operator_numRecordsIn") or 0) > 0
    assert (_value(tm, "flink_taskmanager_job_task_operator_numRecordsOut") or 0) > 0
    heap = _value(tm, "flink_taskmanager_Status_JVM_Memory_Heap_Used") or 0
    assert 0 < heap <= (_value(tm, "flink_taskmanager_Status_JVM_Memory_Heap_Max") or 0)
    # The TaskManager serves only its own process: no JobManager series there, and the reverse.
    assert all(s.name.startswith("flink_taskmanager_") for s in tm)
    assert all(s.name.startswith("flink_jobmanager_") for s in jm)


def test_checkpoints_and_default_savepoints_land_in_the_state_location(scraped: Scrape) -> None:
    """The durable state options each version reads (state.* in 1.x, execution.checkpointing.* in 2.x):
    checkpoints under the configured checkpoint directory, a savepoint without a target directory in the
    configured savepoint directory."""
    assert scraped.checkpoints, f"no checkpoint under {scraped.state / 'checkpoints'}"
    savepoint = Path(scraped.savepoint.removeprefix("file:"))
    assert savepoint.parent == scraped.state / "savepoints"
    assert (savepoint / "_metadata").is_file()


def test_cardinality_stays_bounded(scraped: Scrape) -> None:
    """The excluded scope variables are gone; what is left is per pod, job, task, operator, subtask."""
    labels = {key for s in scraped.jobmanager + scraped.taskmanager for key in s.labels}
    assert not labels & set(flink_metrics.EXCLUDED_VARIABLES)
    assert labels <= {"host", "tm_id", "job_id", "job_name", "task_id", "task_name", "operator_id",
                      "operator_name", "subtask_index", "quantile",
                      "split"}  # 2.x: per source split (Kafka: per partition), bounded by the source
    # One job of 3 tasks at parallelism 1: a few hundred series, not thousands.
    assert len(scraped.jobmanager) + len(scraped.taskmanager) < 400


# --- the dashboard ---------------------------------------------------------------------------------

# Everything in a PromQL expression that is not a metric name: functions, aggregations, keywords.
_NOT_METRICS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or",
                "unless", "inf", "nan"}
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (label matchers, ranges, strings and grouping removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[match.end():].lstrip()[:1]
        if following == "(" or match.group(0).lower() in _NOT_METRICS:
            continue  # a function or aggregation
        names.add(match.group(0))
    return names


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, expression) of every panel target and template-variable query."""
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [(f"panel '{panel['title']}'", target["expr"])
               for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        inner = re.match(r"label_values\((.*),\s*\w+\)$", variable["query"]["query"])
        assert inner, variable
        queries.append((f"variable '{variable['name']}'", inner.group(1)))
    return queries


def test_metric_names_are_parsed_from_promql() -> None:
    assert metric_names('time() - max by (job_name) (max_over_time((timestamp(changes('
                        'flink_a{x=~"$y", z="by(q)"}[2m]) > 0))[6h:1m]))') == {"flink_a"}
    assert metric_names("rate(a_total[5m]) / on (pod) group_left b / 1000") == {"a_total", "b"}


def test_the_dashboard_uses_the_prometheus_input_and_covers_the_pipeline() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]
    assert all(panel["datasource"]["uid"] == "${DS_PROMETHEUS}" for panel in dashboard["panels"])
    used = set().union(*(metric_names(expr) for _, expr in dashboard_queries()))
    for needed in ("flink_jobmanager_job_uptime", "flink_jobmanager_job_numRestarts",
                   "flink_taskmanager_job_task_operator_numRecordsInPerSecond",
                   "flink_taskmanager_job_task_operator_numRecordsOutPerSecond",
                   "flink_taskmanager_job_task_busyTimeMsPerSecond",
                   "flink_taskmanager_job_task_backPressuredTimeMsPerSecond",
                   "flink_jobmanager_job_lastCheckpointDuration", "flink_jobmanager_job_lastCheckpointSize",
                   "flink_jobmanager_taskSlotsAvailable", "flink_jobmanager_taskSlotsTotal",
                   "flink_taskmanager_Status_JVM_Memory_Heap_Used"):
        assert needed in used, needed
    assert any("hologres" in panel["title"].lower() for panel in dashboard["panels"])


def test_every_metric_the_dashboard_queries_is_in_the_real_scrape(scraped: Scrape) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 20
    missing = [(where, name) for where, expr in queries for name in sorted(metric_names(expr))
               if name not in scraped.names]
    assert missing == [], f"Flink {scraped.version} does not export these: {missing}"
