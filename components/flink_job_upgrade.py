"""Starting, health-gating, stopping and rolling back one job version. No Pulumi here.

- `deploy`: find the job this version already started (a retried create) or submit it, then wait until
  the health gate passes: every task RUNNING, then `job_stable_seconds` without a restart or failure
  (and one completed checkpoint when asked). A failure cancels the new job and raises its root cause.
- `take_snapshot`: stop the running version the way its upgrade mode says: stop-with-savepoint
  (`savepoint`), cancel after checking the newest retained checkpoint is fresh (`last-state`), or cancel
  (`stateless`). A failure before anything is stopped leaves the old job running.
- `roll_back`: after a failed new version, the previous version (its spec from the state) is resubmitted
  from the snapshot the upgrade took, health-gated, and the error says what failed and what runs now.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from components.flink_job_capacity import ensure_jar, reserve_slots
from components.flink_job_spec import MAX_JOB_ID_ATTEMPTS, FlinkJobError, JobSpec
from components.flink_rest import FlinkRestClient, FlinkRestError, JobStatus, SavepointFailed
from components.flink_rest_snapshots import checkpoint_stats, newest_snapshot

POLL_INTERVAL_S = 0.1
# The state a refresh records for a job that is not running but can be restored from a known snapshot.
VANISHED = "VANISHED"
SUSPENDED = "SUSPENDED"

Warn = Callable[[str], None]


def iso(millis: int) -> str | None:
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat() if millis > 0 else None


# --- finding jobs ------------------------------------------------------------------------------------


def find_job(client: FlinkRestClient, spec: JobSpec) -> tuple[str, JobStatus | None]:
    """The first derived job id that is free or still active (then it is ours, from a crashed try)."""
    known = client.jobs()
    for attempt in range(MAX_JOB_ID_ATTEMPTS):
        job_id = spec.job_id(attempt)
        status = known.get(job_id)
        if status is None:
            return job_id, None
        if not status.terminal:
            return job_id, status
    raise FlinkJobError(f"all {MAX_JOB_ID_ATTEMPTS} job ids of '{spec.job_name}' are taken by finished "
                        f"jobs on {spec.rest_url}; restart the JobManager or change job_name")


def listed_attempts(known: Mapping[str, JobStatus], spec: JobSpec) -> list[JobStatus]:
    """This version's runs that Flink lists, lowest attempt first. Every attempt is looked up: Flink
    forgets ended jobs one by one (`jobstore.expiration-time`), so a gap (attempt 0 forgotten, a
    rolled-back attempt 1 still listed) says nothing about later attempts."""
    return [known[job_id] for job_id in (spec.job_id(a) for a in range(MAX_JOB_ID_ATTEMPTS)) if job_id in known]


def current_job(client: FlinkRestClient, spec: JobSpec, recorded: str) -> tuple[str, JobStatus | None]:
    """The job that runs this resource now. The state records `recorded`, but a rolled-back upgrade (whose
    state could not be written: a failed update keeps the old one) runs the same version under the next
    derived id: an active job with one of this version's ids is ours (the highest attempt)."""
    known = client.jobs()
    status = known.get(recorded)
    if status is not None and not status.terminal:
        return recorded, status
    active = [other for other in listed_attempts(known, spec) if not other.terminal]
    return (active[-1].job_id, active[-1]) if active else (recorded, status)


@dataclass(frozen=True)
class Predecessor:
    job_id: str  # the last run of this version Flink lists (highest attempt)
    snapshot: str | None  # what a replacement resumes from (None: nothing to resume)


def predecessor(client: FlinkRestClient, spec: JobSpec) -> Predecessor | None:
    """The run of this version Flink lists last on this JobManager, and, when it ended (stopped with a
    savepoint by a delete, suspend or upgrade; cancelled; failed), its newest snapshot: a savepoint, or
    with last-state a retained checkpoint too (none when stateless). A delete-first replacement (a
    rebuilt sink table, `up --replace`) thus comes back with its state. Flink lists ended jobs until
    `jobstore.expiration-time` (1 h) or a JobManager restart without HA."""
    runs = listed_attempts(client.jobs(), spec)
    if not runs:
        return None
    last = runs[-1]
    if not last.terminal or spec.effective_upgrade_mode == "stateless":
        return Predecessor(last.job_id, None)
    return Predecessor(last.job_id, ended_snapshot(client, spec, last.job_id, just_ended=True))


def ended_snapshot(client: FlinkRestClient, spec: JobSpec, job_id: str, *, just_ended: bool = False) -> str | None:
    """The newest snapshot Flink lists for an ended run: a savepoint, or with last-state a retained checkpoint
    too. `just_ended`: statistics read before the job ended may still be cached, naming a checkpoint that a
    later one subsumed (deleted); a checkpoint is then read again once any cached copy has expired."""
    found = newest_snapshot(client, job_id, checkpoints=spec.effective_upgrade_mode == "last-state")
    if just_ended and found is not None and not found.savepoint:
        time.sleep(_refresh_interval_s(client) + 0.3)
        found = newest_snapshot(client, job_id, checkpoints=True) or found
    return found.path if found else None


# --- starting ---------------------------------------------------------------------------------------


def deploy(client: FlinkRestClient, spec: JobSpec, *, restore_from: str | None, reserve: bool = True) -> dict[str, Any]:
    """Start `spec` (or adopt the job a crashed try started) and wait until it passes the health gate.
    `reserve=False`: the caller already holds the slots (an update checks them before stopping the old job)."""
    job_id, existing = find_job(client, spec)
    if existing is None:
        with reserve_slots(client, spec) if reserve else nullcontext():
            jar_id = ensure_jar(client, spec).jar_id
            try:
                client.run_jar(jar_id, entry_class=spec.entry_class, args=spec.args, parallelism=spec.parallelism,
                               job_id=job_id, savepoint_path=restore_from,
                               allow_non_restored_state=spec.allow_non_restored_state,
                               configuration=spec.flink_configuration)
            except FlinkRestError as error:
                restore = f" (restore from {restore_from})" if restore_from else ""
                raise FlinkJobError(f"Flink at {spec.rest_url} could not start job '{spec.job_name}' "
                                    f"(entry class {spec.entry_class or 'from the jar manifest'}){restore}: "
                                    f"{error.detail}") from None
            status = wait_running(client, spec, job_id, restore_from)
    else:
        # A create/update retried after a crash: adopt the job it started, upload nothing.
        jar_id = ensure_jar(client, spec).jar_id
        status = wait_running(client, spec, job_id, restore_from)
    wait_stable(client, spec, job_id, restore_from)
    return {
        "job_id": job_id,
        "jar_id": jar_id,
        "state": status.state,
        "flink_version": client.flink_version(),
        "start_time": iso(status.start_time),
        "job_ui_url": spec.ui_link(job_id),
        "last_savepoint": restore_from,
        "restored_from": restore_from,
        "effective_upgrade_mode": spec.effective_upgrade_mode,
    }


def _fail(client: FlinkRestClient, spec: JobSpec, job_id: str, what: str, restore_from: str | None,
          cause: str | None = None) -> FlinkJobError:
    # The root cause first: a job cancelled while FAILING may never record its failure.
    cause = cause or await_root_cause(client, job_id)
    client.cancel(job_id)
    client.wait_for_terminal(job_id, spec.savepoint_deadline_seconds)  # nothing half-started stays behind
    restore = f"; restore from {restore_from}" if restore_from else ""
    return FlinkJobError(f"job '{spec.job_name}' ({job_id}) {what}: {cause or 'no cause recorded'}{restore}")


def wait_running(client: FlinkRestClient, spec: JobSpec, job_id: str, restore_from: str | None) -> JobStatus:
    """Until the job and all its tasks are RUNNING; a failure or restart in that window cancels it and
    fails with the root cause. Polls the live job overview; the exception history (cached by Flink
    for up to 3 s) is consulted once a second and before declaring success."""
    deadline = time.monotonic() + spec.start_deadline_seconds
    next_history_check = 0.0
    while True:
        status = client.job_summary(job_id)
        if status is None:
            restore = f"; restore from {restore_from}" if restore_from else ""
            raise FlinkJobError(f"job '{spec.job_name}' ({job_id}) vanished from {spec.rest_url} while "
                                f"starting{restore}")
        now = time.monotonic()
        cause = None
        if status.failing or status.all_tasks_running or now >= next_history_check:
            cause = client.root_cause(job_id)
            next_history_check = now + 1.0
        if status.failing or cause:
            raise _fail(client, spec, job_id, "failed while starting", restore_from, cause)
        if status.all_tasks_running or status.state == "FINISHED":
            return status
        if now >= deadline:
            detail = (client.job_or_none(job_id) or status).describe_tasks()
            raise _fail(client, spec, job_id, f"was not running within {spec.start_deadline_seconds:g}s",
                        restore_from, f"job {status.state}; {detail}")
        time.sleep(POLL_INTERVAL_S)


def wait_stable(client: FlinkRestClient, spec: JobSpec, job_id: str, restore_from: str | None) -> None:
    """The second half of the health gate: no restart or failure for `job_stable_seconds` after every
    task ran, and, with `require_checkpoint`, one completed checkpoint (within the start deadline)."""
    stable_until = time.monotonic() + spec.job_stable_seconds
    deadline = time.monotonic() + spec.start_deadline_seconds
    next_history_check = 0.0
    while True:
        status = client.job_summary(job_id)
        now = time.monotonic()
        if status is None:
            raise FlinkJobError(f"job '{spec.job_name}' ({job_id}) vanished from {spec.rest_url} after it started")
        if status.state == "FINISHED":
            return
        cause = None
        if now >= next_history_check or status.state != "RUNNING":
            cause = client.root_cause(job_id)
            next_history_check = now + 0.5
        if status.state != "RUNNING" or cause:
            raise _fail(client, spec, job_id, f"failed within {spec.job_stable_seconds:g}s of starting "
                        f"(jobStableSeconds)", restore_from, cause)
        if now >= stable_until:
            if not spec.require_checkpoint:
                return
            stats = checkpoint_stats(client, job_id)
            if stats and stats.completed > 0:
                return
            if now >= deadline:
                raise _fail(client, spec, job_id, f"completed no checkpoint within {spec.start_deadline_seconds:g}s "
                            "(requireCheckpoint)", restore_from, "check execution.checkpointing.interval")
        time.sleep(POLL_INTERVAL_S)


def await_root_cause(client: FlinkRestClient, job_id: str, wait_s: float = 8.0) -> str | None:
    """The exception history lags the job state by up to Flink's cache interval."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        cause = client.root_cause(job_id)
        if cause:
            return cause
        time.sleep(0.25)
    return None


# --- stopping ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stopped:
    snapshot: str | None  # what the next version restores from (None: fresh)
    was_running: bool  # the old job ran until this upgrade stopped it
    taken: bool  # a savepoint this program took (retention counts it)


def take_snapshot(client: FlinkRestClient, spec: JobSpec, job_id: str, old: JobStatus | None, *,
                  known: str | None, warn: Warn) -> Stopped:
    """Stop the running version (`spec` decides how) and return the snapshot to restore from."""
    mode = spec.effective_upgrade_mode
    if old is None or old.terminal:
        return Stopped(snapshot_of_ended(client, spec, job_id, known, warn), False, False)
    if mode == "stateless":
        client.cancel(job_id)
        client.wait_for_terminal(job_id, spec.savepoint_deadline_seconds)
        return Stopped(None, True, False)
    if mode == "last-state":
        return Stopped(_cancel_at_checkpoint(client, spec, job_id), True, False)
    try:
        savepoint = client.stop_with_savepoint(job_id, spec.savepoint_dir, spec.savepoint_deadline_seconds)
    except SavepointFailed as error:
        now = client.job_summary(job_id)
        if now is None or now.terminal:  # it ended meanwhile, on its own
            return Stopped(snapshot_of_ended(client, spec, job_id, known, warn), False, False)
        raise FlinkJobError(f"upgrade of job '{spec.job_name}' stopped: {error.detail}; the old job "
                            f"{job_id} keeps running (state {now.state}), nothing was changed") from None
    client.wait_for_terminal(job_id, spec.savepoint_deadline_seconds)
    return Stopped(savepoint, True, True)


def _cancel_at_checkpoint(client: FlinkRestClient, spec: JobSpec, job_id: str) -> str:
    """last-state: the newest completed checkpoint, if fresh enough; never a silent fallback."""
    looked = time.monotonic()  # Flink caches these statistics from this first look on (web.refresh-interval)
    stats = checkpoint_stats(client, job_id)
    latest = stats.latest if stats else None
    if latest is None:
        raise FlinkJobError(f"last-state upgrade of job '{spec.job_name}' stopped: job {job_id} has no completed "
                            "checkpoint with a path (set execution.checkpointing.interval and a checkpoint "
                            "directory); the old job keeps running, nothing was changed")
    age = time.time() - latest.completed_ms / 1000
    if age > spec.max_checkpoint_age_seconds:
        raise FlinkJobError(f"last-state upgrade of job '{spec.job_name}' stopped: its newest checkpoint "
                            f"{latest.path} is {age:.0f}s old, more than maxCheckpointAgeSeconds "
                            f"{spec.max_checkpoint_age_seconds:g}; the old job keeps running, nothing was changed")
    client.cancel(job_id)
    client.wait_for_terminal(job_id, spec.savepoint_deadline_seconds)
    # Checkpoints completed between the look and the cancel subsume older ones (num-retained): restore
    # from the newest, read once the cached statistics of the look have expired.
    time.sleep(max(0.0, looked + _refresh_interval_s(client) + 0.3 - time.monotonic()))
    after = checkpoint_stats(client, job_id)
    return after.latest.path if after and after.latest else latest.path


def _refresh_interval_s(client: FlinkRestClient) -> float:
    """How long Flink serves cached checkpoint statistics: `rest.cache.checkpoint-statistics.timeout`
    (RestOptions in 1.18, 1.20 and 2.2), which defaults to `web.refresh-interval` (3 s). A cluster that
    sets it lower makes last-state upgrades that much faster."""
    value = (client.cluster_option("rest.cache.checkpoint-statistics.timeout")
             or client.cluster_option("web.refresh-interval") or "3000")
    match = re.match(r"^\s*(\d+)\s*(ms|s|min)?\s*$", value)
    if not match:
        return 3.0
    return int(match.group(1)) * {None: 0.001, "ms": 0.001, "s": 1.0, "min": 60.0}[match.group(2)]


def snapshot_of_ended(client: FlinkRestClient, spec: JobSpec, job_id: str, known: str | None,
                      warn: Warn) -> str | None:
    """The old job is already over (an update retried after it stopped the job and failed, someone
    stopped it, or a JobManager restarted without HA forgot it): Flink's statistics of the ended job,
    else the last snapshot the state knows, is the way back."""
    if spec.effective_upgrade_mode == "stateless":
        return None
    snapshot = ended_snapshot(client, spec, job_id) or known
    if snapshot is None:
        warn(f"job '{spec.job_name}' ({job_id}) has ended or is gone from {spec.rest_url} without a known "
             "snapshot; submitting the new version without state")
    return snapshot


# --- rolling back ------------------------------------------------------------------------------------


def roll_back(client: FlinkRestClient, previous: JobSpec, snapshot: str | None, failure: Exception,
              new_spec: JobSpec) -> FlinkJobError:
    """Resubmit the previous version from the upgrade's snapshot; the returned error is what `update`
    raises (the state keeps the previous inputs, so the next `up` tries again)."""
    what = str(failure)
    source = f"from {snapshot}" if snapshot else "fresh, without state (stateless upgrade)"
    try:
        outs = deploy(client, previous, restore_from=snapshot)
    except (FlinkJobError, FlinkRestError) as error:
        # refresh then finds the ended job with this snapshot (VANISHED) and the next up restores from it.
        restore = (f"nothing runs now; the pipeline restores from {snapshot}: fix the cause, then run "
                   "`pulumi refresh` and `pulumi up` (or submit the job by hand with `flink run -s` on it)"
                   if snapshot else "nothing runs now and there is no snapshot to restore from")
        return FlinkJobError(f"upgrade of job '{new_spec.job_name}' failed: {what}; rolling back to the previous "
                             f"version failed too: {error}; {restore}")
    return FlinkJobError(f"upgrade of job '{new_spec.job_name}' failed and was rolled back: {what}; the previous "
                         f"version is running again ({outs['job_id']}) {source}")


def carried(olds: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: olds.get(key) for key in keys}
