"""What an operator checks first about a running job, from Flink's REST answers: pure, no Pulumi, no I/O.

The FlinkJob provider merges `health_outputs` into its outputs on create, update and read (`pulumi
refresh`), and its `diff` reports a change while `drifted` says so, which makes an unhealthy job visible
in `pulumi preview --refresh` (and fails `--expect-no-changes` in CI). The checks follow the Flink
Kubernetes Operator's cluster health evaluation: restart count and checkpoint progress.

What Flink 1.18, 1.20 and 2.2 answer (checked on real clusters by tests/test_job_health.py):
- GET /jobs/{id}: `state`, `start-time` and `now` (the JobManager's clock, so no skew with this machine);
- GET /jobs/{id}/metrics?get=numRestarts: `[{"id": "numRestarts", "value": "1"}]`, restarts of this
  Flink job (every upgrade is a new job, so: since the current version started). The REST metric store
  is refreshed every `metrics.fetcher.update-interval` (10 s), so a restart shows within that. The job's
  `fullRestarts` metric is gone in 2.x;
- GET /jobs/{id}/checkpoints: `latest.completed` with `latest_ack_timestamp` (completion),
  `state_size` (full size) and `checkpointed_size` (incremental), or null before the first one;
- GET /jobs/{id}/exceptions: `exceptionHistory.entries` (newest first), reduced to a root cause by
  FlinkRestClient.root_cause.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Output keys the FlinkJob gains (next to state, start_time and job_ui_url, which it already has).
UPTIME = "uptime_seconds"
RESTARTS = "restarts"
# The restart count at the last create/update: restarts above it are drift until the next `pulumi up`.
RESTARTS_BASELINE = "restarts_baseline"
LAST_CHECKPOINT_TIME = "last_checkpoint_time"
LAST_CHECKPOINT_AGE = "last_checkpoint_age_seconds"
LAST_CHECKPOINT_SIZE = "last_checkpoint_size_bytes"
LAST_FAILURE = "last_failure"
HEALTH = "health"
HEALTH_KEYS: tuple[str, ...] = (UPTIME, RESTARTS, RESTARTS_BASELINE, LAST_CHECKPOINT_TIME, LAST_CHECKPOINT_AGE,
                                LAST_CHECKPOINT_SIZE, LAST_FAILURE, HEALTH)
# The FlinkJob input: a running job whose last completed checkpoint is older is unhealthy (0: off).
MAX_CHECKPOINT_AGE_INPUT = "max_checkpoint_age_seconds"
# The same name in Flink 1.18, 1.20 and 2.x.
CHECKPOINT_INTERVAL_OPTION = "execution.checkpointing.interval"

HEALTHY = "healthy"
UNHEALTHY = "unhealthy: "
UNKNOWN = "unknown: "


@dataclass(frozen=True)
class RestAnswers:
    """The REST answers about one job that health is computed from."""

    job: Mapping[str, Any]
    checkpoints: Mapping[str, Any] | None
    num_restarts: int | None
    root_cause: str | None


def _iso(millis: int | None) -> str | None:
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat() if millis and millis > 0 else None


def max_checkpoint_age(props: Mapping[str, Any]) -> float:
    """The configured maximum age in seconds; 0 (off) when unset or not a number."""
    try:
        return max(0.0, float(props.get(MAX_CHECKPOINT_AGE_INPUT) or 0))
    except (TypeError, ValueError):
        return 0.0


def _checkpoints(answers: RestAnswers, previous: Mapping[str, Any]) -> bool:
    """Whether the job checkpoints: its configuration sets an interval (as last-state renders it), or Flink
    counted checkpoints for it. A job that never checkpoints has no checkpoint age to be unhealthy about."""
    if CHECKPOINT_INTERVAL_OPTION in (previous.get("flink_configuration") or {}):
        return True
    if ((answers.checkpoints or {}).get("latest") or {}).get("completed"):
        return True
    counts = (answers.checkpoints or {}).get("counts") or {}
    return any(int(counts.get(kind) or 0) > 0 for kind in ("completed", "in_progress", "failed"))


def health_outputs(answers: RestAnswers, previous: Mapping[str, Any], *, reset_baseline: bool) -> dict[str, Any]:
    """The health outputs. `reset_baseline` (create/update): the current restart count becomes the
    baseline, i.e. `pulumi up` acknowledges restarts so far; a refresh keeps the recorded baseline."""
    job = answers.job
    state = str(job.get("state", ""))
    now = int(job.get("now") or 0)
    start = int(job.get("start-time") or 0)
    uptime = max(0.0, (now - start) / 1000) if now and start else None
    restarts = answers.num_restarts
    recorded = previous.get(RESTARTS_BASELINE)
    baseline = restarts if reset_baseline or recorded is None else int(recorded)

    completed = ((answers.checkpoints or {}).get("latest") or {}).get("completed") or {}
    completed_at = int(completed.get("latest_ack_timestamp") or 0) or None
    age = max(0.0, (now - completed_at) / 1000) if completed_at and now else None
    size = completed.get("state_size", completed.get("checkpointed_size"))

    reasons: list[str] = []
    if state != "RUNNING":
        reasons.append(f"state {state or 'unknown'}")
    if restarts is not None and baseline is not None and restarts > baseline:
        cause = f" (last failure: {answers.root_cause})" if answers.root_cause else ""
        reasons.append(f"restarted {restarts - baseline} time(s) since the last pulumi up{cause}")
    limit = max_checkpoint_age(previous)
    if limit and state == "RUNNING" and _checkpoints(answers, previous):
        if age is not None and age > limit:
            reasons.append(f"last completed checkpoint {age:.0f}s ago (max {limit:g}s)")
        elif age is None and uptime is not None and uptime > limit:
            reasons.append(f"no completed checkpoint in {uptime:.0f}s of uptime (max {limit:g}s)")
    return {
        UPTIME: round(uptime, 3) if uptime is not None else None,
        RESTARTS: restarts,
        RESTARTS_BASELINE: baseline,
        LAST_CHECKPOINT_TIME: _iso(completed_at),
        LAST_CHECKPOINT_AGE: round(age, 3) if age is not None else None,
        LAST_CHECKPOINT_SIZE: int(size) if size is not None else None,
        LAST_FAILURE: answers.root_cause,
        HEALTH: UNHEALTHY + "; ".join(reasons) if reasons else HEALTHY,
    }


def unknown_health(reason: str, previous: Mapping[str, Any]) -> dict[str, Any]:
    """Health could not be read (Flink did not answer): say so, keep the baseline, and do not call it drift."""
    return {**{key: previous.get(key) for key in HEALTH_KEYS}, HEALTH: UNKNOWN + reason}


def drifted(outputs: Mapping[str, Any]) -> bool:
    """The recorded verdict says unhealthy (what `diff` reports as a change)."""
    return str(outputs.get(HEALTH) or "").startswith(UNHEALTHY)
