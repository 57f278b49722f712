"""The REST calls behind a job's health outputs (flink_job_health), on a FlinkRestClient. No Pulumi here."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.flink_job_health import RestAnswers, health_outputs, unknown_health
from components.flink_rest import FlinkRestClient, FlinkRestError, JobNotFound

RESTARTS_METRIC = "numRestarts"


def job_details(client: FlinkRestClient, job_id: str) -> Mapping[str, Any] | None:
    """GET /jobs/{id} (state, start-time, the JobManager's now); None when the JobManager does not know it."""
    try:
        return dict(client.get_json(f"/jobs/{job_id}"))
    except JobNotFound:
        return None


def num_restarts(client: FlinkRestClient, job_id: str) -> int | None:
    """The job's numRestarts metric (GET /jobs/{id}/metrics?get=numRestarts), None when not reported yet."""
    for entry in client.get_json(f"/jobs/{job_id}/metrics", params={"get": RESTARTS_METRIC}) or ():
        if entry.get("id") == RESTARTS_METRIC and str(entry.get("value", "")).lstrip("-").isdigit():
            return int(entry["value"])
    return None


def checkpoint_statistics(client: FlinkRestClient, job_id: str) -> Mapping[str, Any] | None:
    """GET /jobs/{id}/checkpoints; None when checkpointing is off (Flink then answers an error)."""
    try:
        return dict(client.get_json(f"/jobs/{job_id}/checkpoints"))
    except FlinkRestError:
        return None


def fetch(client: FlinkRestClient, job_id: str, *, just_started: bool = False) -> RestAnswers | None:
    """`just_started`: a job submitted a moment ago (and watched until RUNNING without a restart) has no
    checkpoint yet and 0 restarts, so its checkpoint statistics are not asked
    for. Asking would also fill the JobManager's checkpoint-statistics cache (rest.cache.checkpoint-
    statistics.timeout, 3 s), and a stop-with-savepoint within those seconds would then be invisible to
    FlinkRestClient.latest_savepoint."""
    job = job_details(client, job_id)
    if job is None:
        return None
    restarts = num_restarts(client, job_id)
    if restarts is None and just_started:
        # The metric store has not fetched the new job's metrics yet; the start was watched, without a restart.
        restarts = 0
    return RestAnswers(job=job, checkpoints=None if just_started else checkpoint_statistics(client, job_id),
                       num_restarts=restarts, root_cause=client.root_cause(job_id))


def job_health_outputs(rest: FlinkRestClient, job_id: str, previous: Mapping[str, Any], *,
                       reset_baseline: bool, just_started: bool = False) -> dict[str, Any]:
    """The FlinkJob's health outputs. Never raises for Flink's sake: a deploy that succeeded is not failed
    by a health read, and a refresh that cannot read health says `unknown: …` (not drift). `rest` is the
    caller's client, so health is read through the same proxy credentials as everything else."""
    try:
        answers = fetch(rest, job_id, just_started=just_started)
    except FlinkRestError as error:
        return unknown_health(error.detail, previous)
    if answers is None:
        return unknown_health(f"job {job_id} is not known to {rest.base_url}", previous)
    return health_outputs(answers, previous, reset_baseline=reset_baseline)
