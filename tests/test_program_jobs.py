"""Jobs in the program under the Pulumi SDK mocks: one-job shorthand, several jobs on one session
cluster, their wiring to the cluster and the table, and bad job settings."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.harness.program import ProgramRun, run_program
from tests.test_program_flink import KUBECONFIG, SECRETS

JOB = "pulumi-python:dynamic/flink:Job"
REST = {**KUBECONFIG, "flinkRestUrl": "http://127.0.0.1:18081"}


@pytest.fixture(scope="module")
def jars(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("jars")
    paths = {}
    for name in ("orders", "audit"):
        paths[name] = folder / f"{name}.jar"
        paths[name].write_bytes(f"not really a jar: {name}".encode())
    return paths


def _jobs(run: ProgramRun) -> dict[str, dict]:  # type: ignore[type-arg]
    assert run.error is None, run.raw
    return {r.name: r.plain() for r in run.of_type(JOB)}


def test_single_job_keys_declare_one_job_after_the_cluster_and_the_table(jars: dict[str, Path]) -> None:
    run = run_program({**REST, "jobJar": str(jars["orders"]), "jobArgs": ["--rows", "10"],
                       "jobUpgradeMode": "savepoint", "savepointDir": "oss://bucket/savepoints"}, secrets=SECRETS)
    job = _jobs(run)["job-main"]
    assert job["rest_url"] == "https://127.0.0.1:18081"  # issue 12: through the TLS proxy
    assert job["jar_sha256"] == hashlib.sha256(jars["orders"].read_bytes()).hexdigest()
    assert job["entry_class"] == "io.hologres.flink.example.HologresSinkExample"
    assert job["args"] == ["--rows", "10"]
    assert job["parallelism"] == 2  # defaultParallelism
    assert job["upgrade_mode"] == "savepoint" and job["savepoint_dir"] == "oss://bucket/savepoints"
    assert job["job_name"] == "flink-hologres/dev/main"
    # A component dependency reaches the engine as its children: the job waits for the Deployments.
    dependencies = run.one(JOB).dependencies
    assert {run.by_name(d).urn for d in ("flink-jobmanager", "flink-taskmanager")} <= set(dependencies)
    assert run.one("pulumi-python:dynamic/hologres:Table").urn in dependencies
    assert set(run.outputs["jobIds"]) == {"main"}


def test_the_state_location_is_the_default_savepoint_directory(jars: dict[str, Path]) -> None:
    run = run_program({**REST, "jobJar": str(jars["orders"]), "stateStorage": "s3://team/flink",
                       "flinkImage": "flink:1.20.3-java17"}, secrets=SECRETS)
    assert _jobs(run)["job-main"]["savepoint_dir"] == "s3://team/flink/savepoints"


def test_several_jobs_each_with_a_stable_resource(jars: dict[str, Path]) -> None:
    both = [{"name": "orders", "jar": str(jars["orders"]), "parallelism": 2, "upgradeMode": "savepoint"},
            {"name": "audit", "jar": str(jars["audit"]), "entryClass": "com.example.Audit", "args": ["-v"],
             "parallelism": 1, "upgradeMode": "stateless"}]
    two = _jobs(run_program({**REST, "jobs": both}, secrets=SECRETS))
    assert set(two) == {"job-orders", "job-audit"}
    assert two["job-audit"]["entry_class"] == "com.example.Audit" and two["job-audit"]["parallelism"] == 1
    # Removing one job leaves the other's inputs exactly as they were: no diff, no restart.
    one = _jobs(run_program({**REST, "jobs": both[:1]}, secrets=SECRETS))
    assert set(one) == {"job-orders"}
    assert one["job-orders"] == two["job-orders"]


def test_no_jar_declares_no_job() -> None:
    run = run_program(KUBECONFIG, secrets=SECRETS)
    assert run.error is None and run.of_type(JOB) == []


@pytest.mark.parametrize(("config", "key", "hint"), [
    ({"jobJar": "build/missing.jar"}, "jobJar", "is not a file"),
    ({"jobEntryClass": "not a class"}, "jobEntryClass", "Java class name"),
    ({"jobUpgradeMode": "blue-green"}, "jobUpgradeMode", "not one of"),
    ({"jobUpgradeMode": "last-state"}, "jobUpgradeMode", "no checkpoint location is set"),
    ({"jobState": "paused"}, "jobState", "not one of"),
    ({"jobs": [{"name": "a", "state": "paused"}]}, "jobs[0].state", "running or suspended"),
    ({"jobs": [{"name": "a", "upgradeMode": "last-state", "checkpointInterval": "soon",
                "flinkConfig": {"execution.checkpointing.dir": "file:///ck"}}]}, "jobs[0].checkpointInterval",
     "not a duration"),
    ({"jobs": [{"name": "a", "savepointsToKeep": 0}]}, "jobs[0].savepointsToKeep", "whole number ≥ 1"),
    ({"savepointDir": "relative/dir"}, "savepointDir", "every Flink pod can reach"),
    ({"jobs": [{"name": "Orders!"}]}, "jobs[0].name", "short lowercase name"),
    ({"jobs": [{"name": "a", "parallelism": "two"}]}, "jobs[0].parallelism", "whole number"),
    ({"jobs": [{"name": "a"}, {"name": "a"}]}, "jobs", "used twice"),
    ({"jobs": [{"name": "a", "upgradeMode": "last-state"}]}, "jobs[0].upgradeMode", "no checkpoint location"),
])
def test_bad_job_settings(config: dict[str, object], key: str, hint: str) -> None:
    run = run_program({**REST, **config}, secrets=SECRETS)
    assert run.error_type == "ConfigError", run.raw
    assert run.error is not None and run.error.startswith(f"config '{key}'") and hint in run.error
    assert run.resources == []


def test_a_job_without_a_reachable_rest_url_names_flink_rest_url(jars: dict[str, Path]) -> None:
    run = run_program({**KUBECONFIG, "jobJar": str(jars["orders"])}, secrets=SECRETS)
    assert run.error is not None and run.error.startswith("config 'flinkRestUrl'")
    assert "port-forward" in run.error


def test_lifecycle_settings_reach_the_job(jars: dict[str, Path]) -> None:
    """last-state renders the checkpointing it needs into the job's own configuration; suspend, health
    gate, retention and the abandon opt-in reach the resource; the cluster's revision is a job input."""
    entry = {"name": "orders", "jar": str(jars["orders"]), "upgradeMode": "last-state", "state": "suspended",
             "stableSeconds": 12, "requireCheckpoint": True, "checkpointInterval": "10 s",
             "maxCheckpointAgeSeconds": 120, "savepointsToKeep": 3, "abandonOnUnreachable": True,
             "initialSavepointPath": "oss://b/flink/savepoints/savepoint-1"}
    job = _jobs(run_program({**REST, "stateStorage": "s3://team/flink", "flinkImage": "flink:1.20.3-java17",
                             "jobs": [entry]}, secrets=SECRETS))["job-orders"]
    assert job["flink_configuration"] == {
        "execution.checkpointing.interval": "10 s",
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION"}
    assert (job["upgrade_mode"], job["desired_state"], job["job_stable_seconds"]) == ("last-state", "suspended", 12)
    assert (job["require_checkpoint"], job["max_checkpoint_age_seconds"], job["savepoints_to_keep"]) == (True, 120, 3)
    assert job["abandon_on_unreachable"] is True and job["initial_savepoint_path"] == "oss://b/flink/savepoints/savepoint-1"
    assert isinstance(job["cluster_revision"], str) and job["cluster_revision"].endswith(":flink")
    plain = _jobs(run_program({**REST, "jobJar": str(jars["orders"])}, secrets=SECRETS))["job-main"]
    assert (plain["desired_state"], plain["job_stable_seconds"], plain["savepoints_to_keep"]) == ("running", 5, 5)
