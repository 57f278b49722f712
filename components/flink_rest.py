"""A small client for Flink's REST API (1.18, 1.20, 2.x), on `requests`. No Pulumi here.

Only what deploying a job needs: wait for the API, the cluster overview, jar upload (streamed, and
reused when the same content is already there), run, job status with per-vertex task states,
stop-with-savepoint, cancel, and the root cause of a failure as one line. The session and its one-line
errors are flink_rest_base; the jar calls flink_rest_jars; the snapshot calls flink_rest_snapshots; the
job calls and the typed views of jobs are here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.flink_rest_base import (  # noqa: F401 - the client's names, imported from here
    REQUEST_TIMEOUT,
    UPLOAD_TIMEOUT,
    FlinkRestError,
    FlinkUnavailable,
    JobNotFound,
    Overview,
    SavepointFailed,
    error_message,
    one_line,
    root_cause_of,
)
from components.flink_rest_jars import JAR_SUFFIX, JarCalls, JarUpload, file_sha256, jar_upload_name  # noqa: F401
from components.flink_rest_snapshots import SnapshotCalls

TERMINAL_STATES = frozenset({"FINISHED", "CANCELED", "FAILED", "SUSPENDED"})
# Task states that count as "up": a bounded source's task may legitimately be FINISHED.
HEALTHY_TASK_STATES = frozenset({"RUNNING", "FINISHED"})


# --- typed views of Flink's answers ---------------------------------------------------------------


def _task_counts(raw: Mapping[str, Any] | None) -> dict[str, int]:
    """Non-zero task counts by state, upper-case (/jobs/overview writes them lower-case, with a total)."""
    return {str(state).upper(): int(n) for state, n in (raw or {}).items()
            if str(state).lower() != "total" and int(n or 0)}


def _tasks_healthy(counts: Mapping[str, int]) -> bool:
    return bool(counts) and all(state in HEALTHY_TASK_STATES for state in counts)


@dataclass(frozen=True)
class VertexStatus:
    name: str
    status: str
    parallelism: int
    tasks: Mapping[str, int]

    @property
    def healthy(self) -> bool:
        return _tasks_healthy(self.tasks)

    def describe(self) -> str:
        counts = ", ".join(f"{n} {state}" for state, n in sorted(self.tasks.items()))
        return f"{self.name}: {counts or self.status}"


@dataclass(frozen=True)
class JobStatus:
    """A job as `/jobs/{id}` (with vertices and timestamps) or `/jobs/overview` (counts only) shows it.

    `/jobs/{id}` is served from an execution-graph cache that may be up to `web.refresh-interval`
    (3 s) old; `/jobs/overview` asks the JobMasters live, so waiting loops poll that."""

    job_id: str
    name: str
    state: str
    start_time: int
    tasks: Mapping[str, int]  # job-wide task counts by state
    timestamps: Mapping[str, int] = field(default_factory=dict)
    vertices: tuple[VertexStatus, ...] = field(default_factory=tuple)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> JobStatus:
        vertices = tuple(
            VertexStatus(
                name=str(v.get("name", v.get("id", "?"))),
                status=str(v.get("status", "")),
                parallelism=int(v.get("parallelism", 0)),
                tasks=_task_counts(v.get("tasks")),
            )
            for v in body.get("vertices") or ()
        )
        return cls._of(body, body.get("status-counts"),
                       timestamps={str(k): int(v or 0) for k, v in (body.get("timestamps") or {}).items()},
                       vertices=vertices)

    @classmethod
    def from_overview(cls, entry: Mapping[str, Any]) -> JobStatus:
        """One entry of GET /jobs/overview (task counts under `tasks`, no vertices)."""
        return cls._of(entry, entry.get("tasks"))

    @classmethod
    def _of(cls, body: Mapping[str, Any], tasks: Mapping[str, Any] | None, *,
            timestamps: Mapping[str, int] | None = None, vertices: tuple[VertexStatus, ...] = ()) -> JobStatus:
        return cls(job_id=str(body.get("jid", "")), name=str(body.get("name", "")), state=str(body.get("state", "")),
                   start_time=int(body.get("start-time", 0) or 0), tasks=_task_counts(tasks),
                   timestamps=dict(timestamps or {}), vertices=vertices)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def failing(self) -> bool:
        return self.state in ("FAILING", "RESTARTING") or (self.terminal and self.state != "FINISHED")

    @property
    def all_tasks_running(self) -> bool:
        return self.state == "RUNNING" and _tasks_healthy(self.tasks)

    @property
    def has_restarted(self) -> bool:
        """Flink records when a job last entered each state; any RESTARTING/FAILING means a failure."""
        return self.failing or any(self.timestamps.get(state, 0) > 0 for state in ("RESTARTING", "FAILING"))

    @property
    def slots_used(self) -> int:
        """Slots the job holds under default slot sharing: its largest vertex parallelism."""
        return max((v.parallelism for v in self.vertices), default=0)

    def describe_tasks(self) -> str:
        if self.vertices:
            return "; ".join(v.describe() for v in self.vertices if not v.healthy) or "all tasks running"
        return ", ".join(f"{n} {state}" for state, n in sorted(self.tasks.items())) or "no tasks yet"


# --- the client ---------------------------------------------------------------------------------


class FlinkRestClient(JarCalls, SnapshotCalls):
    """Flink REST calls with timeouts and one-line errors. `base_url` like http://host:8081."""

    def wait_until_ready(self, deadline_s: float, *, need_taskmanagers: bool = True) -> Overview:
        """Poll /overview with exponential backoff until it answers (and a TaskManager has registered:
        right after boot the JobManager answers with 0 slots). The error names the URL and the last answer."""
        deadline = time.monotonic() + deadline_s
        delay = 0.2
        last = "nothing yet"
        while True:
            try:
                overview = self.overview()
                if overview.taskmanagers > 0 or not need_taskmanagers:
                    return overview
                last = "HTTP 200 but no TaskManager has registered yet"
            except FlinkRestError as error:
                last = f"HTTP {error.status}: {error.detail}" if error.status else error.detail
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FlinkUnavailable(f"Flink REST API at {self.base_url} was not ready within "
                                       f"{deadline_s:g}s; last answer: {last}", url=self.url("/overview"),
                                       detail=last)
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 5.0)

    def job(self, job_id: str) -> JobStatus:
        """GET /jobs/{id}; `JobNotFound` when the JobManager does not know it."""
        return JobStatus.from_json(self._json("GET", f"/jobs/{job_id}"))

    def job_or_none(self, job_id: str) -> JobStatus | None:
        try:
            return self.job(job_id)
        except JobNotFound:
            return None

    def jobs(self) -> dict[str, JobStatus]:
        """Every job the JobManager knows (running and archived), live from GET /jobs/overview."""
        return {str(entry["jid"]): JobStatus.from_overview(entry)
                for entry in self._json("GET", "/jobs/overview").get("jobs") or ()}

    def job_summary(self, job_id: str) -> JobStatus | None:
        """State and task counts of one job, live (no execution-graph cache); None if unknown."""
        return self.jobs().get(job_id)

    def root_cause(self, job_id: str) -> str | None:
        """The newest failure of a job as 'ExceptionClass: message', or None if it never failed.

        1.18/1.20 answer `root-exception`/`all-exceptions` (deprecated) and `exceptionHistory`; 2.x only
        `exceptionHistory`, whose entries carry `exceptionName` + `stacktrace` (1.20+ renamed
        `location` to `endpoint`; neither matters here). Entries are newest first; the newest is often
        Flink's own "Recovery is suppressed" wrapper, whose deepest cause is the user's exception.
        """
        try:
            body = self._json("GET", f"/jobs/{job_id}/exceptions")
        except JobNotFound:
            return None
        entries = ((body.get("exceptionHistory") or {}).get("entries")) or []
        for entry in entries:
            text = entry.get("stacktrace") or entry.get("exceptionName")
            if text:
                return root_cause_of(str(text))
        legacy = body.get("root-exception")
        return root_cause_of(str(legacy)) if legacy else None

    def cancel(self, job_id: str) -> bool:
        """PATCH /jobs/{id}?mode=cancel. False when the job is already gone (404) or over (409)."""
        response = self._request("PATCH", f"/jobs/{job_id}", params={"mode": "cancel"},
                                 ok=(200, 202, 404, 409))
        return response.status_code in (200, 202)

    def wait_for_terminal(self, job_id: str, deadline_s: float) -> JobStatus | None:
        """Wait until the job reaches a terminal state (None if it vanished)."""
        deadline = time.monotonic() + deadline_s
        while True:
            status = self.job_summary(job_id)
            if status is None or status.terminal:
                return status
            if time.monotonic() >= deadline:
                raise FlinkRestError(f"job {job_id} did not stop within {deadline_s:g}s "
                                     f"(state {status.state})")
            time.sleep(0.1)
