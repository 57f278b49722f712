"""Jobs in the program under the Pulumi SDK mocks: one-job shorthand, several jobs on one session
cluster, their wiring to the cluster and the table, and bad job settings."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.harness.program import SECRET_SIG, SECRET_VALUE, UNKNOWN, ProgramRun, plaintext_occurrences, run_program
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
    ({"jobs": [{"name": "a"}]}, "jobs[0].jar", "is required: job 'a' needs the path of its built jar"),
    ({"jobs": [{"name": "a", "upgradeMode": "last-state", "checkpointInterval": "30",  # Flink: 30 ms
                "flinkConfig": {"execution.checkpointing.dir": "file:///ck"}}]}, "jobs[0].checkpointInterval",
     "not a duration"),
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


SENTINEL_ARG = "S3NT1NEL-job-arg-41c7"


def _no_plaintext_sentinel(run: ProgramRun) -> None:
    for resource in run.resources:
        assert list(plaintext_occurrences(resource.inputs, SENTINEL_ARG)) == [], resource.name
        assert list(plaintext_occurrences(resource.outputs, SENTINEL_ARG)) == [], resource.name
    assert list(plaintext_occurrences(run.outputs, SENTINEL_ARG)) == []
    assert SENTINEL_ARG not in json.dumps(run.logs) and SENTINEL_ARG not in run.raw


def test_secret_job_args_and_options_stay_secret_into_the_job(jars: dict[str, Path]) -> None:
    # `pulumi config set --secret --path 'jobArgs[1]' …` (a declared array keeps its type that way).
    run = run_program({**REST, "jobJar": str(jars["orders"])}, secrets={
        **SECRETS, "jobArgs": ["--password", SENTINEL_ARG],
        "jobFlinkConfig": {"pipeline.name": "orders", "custom.password": SENTINEL_ARG}})
    assert run.error is None, run.raw
    job = run.one(JOB)
    assert job.inputs["args"][SECRET_SIG] == SECRET_VALUE
    assert job.inputs["flink_configuration"][SECRET_SIG] == SECRET_VALUE
    assert job.plain()["args"] == ["--password", SENTINEL_ARG]  # the job still gets them
    assert set(job.additional_secret_outputs) == {"args", "flink_configuration"}
    _no_plaintext_sentinel(run)


def test_a_secret_jobs_list_keeps_every_jobs_args_and_options_secret(jars: dict[str, Path]) -> None:
    # `pulumi config set --secret --path 'jobs[0].args[0]' …` makes the whole `jobs` value secret.
    jobs = [{"name": "orders", "jar": str(jars["orders"]), "args": [SENTINEL_ARG]},
            {"name": "audit", "jar": str(jars["audit"]), "flinkConfig": {"x.password": SENTINEL_ARG}}]
    run = run_program(REST, secrets={**SECRETS, "jobs": jobs})
    assert run.error is None, run.raw
    for job in run.of_type(JOB):
        assert job.inputs["args"][SECRET_SIG] == SECRET_VALUE, job.name
        assert set(job.additional_secret_outputs) == {"args", "flink_configuration"}, job.name
    _no_plaintext_sentinel(run)


def test_plain_job_args_stay_readable_in_the_diff(jars: dict[str, Path]) -> None:
    run = run_program({**REST, "jobJar": str(jars["orders"]), "jobArgs": ["--rows", "10"]}, secrets=SECRETS)
    job = run.one(JOB)
    assert job.inputs["args"] == ["--rows", "10"] and job.additional_secret_outputs == []


def test_a_preview_without_the_built_jar_warns_once_and_previews_the_rest() -> None:
    run = run_program({**REST, "jobJar": "build/not-built-here.jar"}, secrets=SECRETS, preview=True)
    assert run.error is None, run.raw
    about_jar = [w for w in run.warnings() if "jobJar" in w]
    assert about_jar == ["config 'jobJar': 'build/not-built-here.jar' is not a file (paths are relative to the "
                         "project directory); previewing job 'main' with an unknown jar hash (a possible update); "
                         "`pulumi up` needs the jar"]
    job = run.one(JOB)
    assert job.inputs["jar_sha256"] == UNKNOWN
    assert job.plain()["jar_path"] == "build/not-built-here.jar"
    assert run.one("flink-hologres:flink:SessionCluster") and run.one("pulumi-python:dynamic/hologres:Table")
    # `up` still stops with one line naming the key, before anything is declared.
    up = run_program({**REST, "jobJar": "build/not-built-here.jar"}, secrets=SECRETS)
    assert up.error_type == "ConfigError" and up.error is not None and up.error.startswith("config 'jobJar': ")
    assert up.resources == []


TABLE, GATE = "pulumi-python:dynamic/hologres:Table", "pulumi-python:dynamic/flink:ClusterReady"


def test_every_job_waits_for_the_cluster_gate_and_follows_the_table_and_the_cluster_revision(
        jars: dict[str, Path]) -> None:
    """Issue 17, item 7 and the table rebuild. Every job depends on the ClusterReady gate (the SDK expands
    the component dependency into its children, so the engine runs the gate's step before the job's), the
    gate carries the same cluster revision as the jobs (a roll re-runs the wait before any job updates),
    and each job's `sink_identity` depends on the table as a property: what the engine's dependent
    replacement follows when the table is rebuilt."""
    both = {**REST, "jobs": [{"name": name, "jar": str(jars[name])} for name in ("orders", "audit")]}
    outputs = {"__resource_outputs__": {TABLE: {"generation": "0123abcd"}}}
    runs = [run_program({**both, "flinkConfig": config}, secrets=SECRETS, invokes=outputs)
            for config in ({}, {"state.backend.type": "rocksdb"})]
    revisions = []
    for run in runs:
        gate, table, jobs = run.one(GATE), run.one(TABLE), run.of_type(JOB)
        assert len(jobs) == 2 and run.error is None, run.raw
        for job in jobs:
            assert gate.urn in job.dependencies, job.name
            assert job.property_dependencies["sink_identity"] == [table.urn], job.name
            named = table.plain()
            assert job.plain()["sink_identity"] == f"{named['schemaName']}.{named['tableName']}@0123abcd"
            assert job.plain()["cluster_revision"] == gate.plain()["cluster_revision"], job.name
        revisions.append(gate.plain()["cluster_revision"])
    # A flinkConfig change rolls the pods: a new revision for the gate and the jobs alike.
    assert revisions[0] != revisions[1] and all(revisions)
    assert runs[0].one(GATE).plain()["config_checksum"] != runs[1].one(GATE).plain()["config_checksum"]
