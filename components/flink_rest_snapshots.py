"""Snapshot calls of the Flink REST client (1.18, 1.20, 2.x): stop with a savepoint, checkpoint statistics
and savepoint disposal. No Pulumi here.

`GET /jobs/{id}/checkpoints`: `counts.completed`, `latest.completed` (the newest completed checkpoint,
`external_path`, `latest_ack_timestamp` in ms), `latest.savepoint`, `latest.restored`. Flink keeps these
statistics for ended jobs too (archived execution graphs), until the JobManager restarts without HA.
`POST /savepoint-disposal` `{"savepoint-path": …}` answers a `request-id`, polled at
`GET /savepoint-disposal/{request-id}` (same status/operation shape as savepoint triggers).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from components.flink_rest_base import FlinkRestError, JobNotFound, RestSession, SavepointFailed, root_cause_of


@dataclass(frozen=True)
class Snapshot:
    path: str
    completed_ms: int  # when it completed (the last acknowledgement), Flink's clock
    savepoint: bool


@dataclass(frozen=True)
class CheckpointStats:
    completed: int
    latest: Snapshot | None  # the newest completed checkpoint (not savepoint) with an addressable path
    latest_savepoint: Snapshot | None
    restored: str | None  # what the job was restored from, if anything


def _snapshot(raw: Any, savepoint: bool) -> Snapshot | None:
    if not isinstance(raw, dict):
        return None
    path = raw.get("external_path")
    # Without a checkpoint directory Flink reports "<checkpoint-not-externally-addressable>".
    if not path or str(path).startswith("<") or raw.get("status", "COMPLETED") != "COMPLETED":
        return None
    when = int(raw.get("latest_ack_timestamp") or raw.get("trigger_timestamp") or 0)
    return Snapshot(str(path), when, savepoint)


def checkpoint_stats(client: RestSession, job_id: str) -> CheckpointStats | None:
    """The job's checkpoint statistics; None when Flink does not know the job (or keeps no statistics)."""
    try:
        body = client._json("GET", f"/jobs/{job_id}/checkpoints")
    except (JobNotFound, FlinkRestError):
        return None
    latest = body.get("latest") or {}
    restored = latest.get("restored") or {}
    return CheckpointStats(
        completed=int((body.get("counts") or {}).get("completed", 0) or 0),
        latest=_snapshot(latest.get("completed"), False),
        latest_savepoint=_snapshot(latest.get("savepoint"), True),
        restored=str(restored["external_path"]) if restored.get("external_path") else None,
    )


def newest_snapshot(client: RestSession, job_id: str, *, checkpoints: bool) -> Snapshot | None:
    """The newest completed savepoint Flink knows for this job, or checkpoint too when `checkpoints` (only
    when they are retained on cancel: otherwise the path in the statistics is gone from storage)."""
    stats = checkpoint_stats(client, job_id)
    if stats is None:
        return None
    known = [s for s in (stats.latest if checkpoints else None, stats.latest_savepoint) if s]
    return max(known, key=lambda s: s.completed_ms) if known else None


def _operation(body: Any) -> tuple[str, str | None, str | None]:
    """(status, location, failure as one line) of an asynchronous operation (savepoint trigger, disposal)."""
    operation = body.get("operation") or {}
    failure = operation.get("failure-cause")
    cause = root_cause_of(str(failure.get("stack-trace") or failure.get("class") or failure)) if failure else None
    return str((body.get("status") or {}).get("id", "")), operation.get("location"), cause


def dispose_savepoint(client: RestSession, path: str, deadline_s: float = 60.0) -> None:
    """Delete a savepoint through the JobManager (it can reach the storage; we may not). Raises
    FlinkRestError with Flink's cause on failure."""
    trigger = str(client._json("POST", "/savepoint-disposal", json={"savepoint-path": path})["request-id"])
    deadline = time.monotonic() + deadline_s
    while True:
        status, _, cause = _operation(client._json("GET", f"/savepoint-disposal/{trigger}"))
        if status == "COMPLETED":
            if cause:
                raise FlinkRestError(f"disposal of savepoint {path} failed: {cause}", detail=cause)
            return
        if time.monotonic() >= deadline:
            raise FlinkRestError(f"disposal of savepoint {path} did not complete within {deadline_s:g}s")
        time.sleep(0.2)


class SnapshotCalls(RestSession):
    """POST /jobs/{id}/stop and its trigger, the latest savepoint from the checkpoint statistics."""

    def latest_savepoint(self, job_id: str) -> str | None:
        """The path of the job's latest completed savepoint, from its checkpoint statistics."""
        stats = checkpoint_stats(self, job_id)
        return stats.latest_savepoint.path if stats and stats.latest_savepoint else None

    def trigger_stop(self, job_id: str, target_directory: str | None, *, drain: bool = False) -> str:
        body: dict[str, Any] = {"drain": drain}
        if target_directory:
            body["targetDirectory"] = target_directory
        return str(self._json("POST", f"/jobs/{job_id}/stop", json=body)["request-id"])

    def savepoint_status(self, job_id: str, trigger_id: str) -> tuple[str, str | None, str | None]:
        """(status, location, failure) of a savepoint/stop trigger."""
        return _operation(self._json("GET", f"/jobs/{job_id}/savepoints/{trigger_id}"))

    def stop_with_savepoint(self, job_id: str, target_directory: str | None, deadline_s: float) -> str:
        """Stop the job with a savepoint and return its path. On failure Flink keeps the job running;
        `SavepointFailed` carries the cause."""
        trigger = self.trigger_stop(job_id, target_directory)
        deadline = time.monotonic() + deadline_s
        delay = 0.1
        while True:
            status, location, cause = self.savepoint_status(job_id, trigger)
            if status == "COMPLETED":
                if cause or not location:
                    raise SavepointFailed(f"the savepoint of job {job_id} failed: "
                                          f"{cause or 'no location reported'}", detail=cause)
                return str(location)
            if time.monotonic() >= deadline:
                raise SavepointFailed(f"the savepoint of job {job_id} did not complete within "
                                      f"{deadline_s:g}s")
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)
