"""A small client for Flink's REST API (1.18, 1.20, 2.x), on `requests`. No Pulumi here.

Only what deploying a job needs: wait for the API, the cluster overview, jar upload (streamed, and
reused when the same content is already there), run, job status with per-vertex task states,
stop-with-savepoint, cancel, and the root cause of a failure as one line.

Every error is a `FlinkRestError` with a single-line message: Flink answers failures with Java stack
traces, and a deployment tool should show the cause, not 200 lines of `at …`.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import requests
from requests.adapters import HTTPAdapter
from requests_toolbelt.multipart.encoder import MultipartEncoder

# (connect, read) seconds for ordinary calls. The upload's read timeout is longer: Flink answers
# only after it has written the whole jar to disk.
REQUEST_TIMEOUT: tuple[float, float] = (5.0, 30.0)
UPLOAD_TIMEOUT: tuple[float, float] = (5.0, 600.0)
# Bytes handed to the socket per write while streaming a jar: big enough that Python's per-call
# cost disappears next to the copy, small enough not to matter for memory.
UPLOAD_BLOCK_SIZE = 1 << 20

TERMINAL_STATES = frozenset({"FINISHED", "CANCELED", "FAILED", "SUSPENDED"})
# Task states that count as "up": a bounded source's task may legitimately be FINISHED.
HEALTHY_TASK_STATES = frozenset({"RUNNING", "FINISHED"})

JAR_SUFFIX = ".jar"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# "pkg.SomeException: message" (or a bare class name) at the start of a line.
_EXCEPTION_HEAD = re.compile(r"^(?:[A-Za-z_$][\w$]*\.)+[A-Za-z_$][\w$]*(?::\s|$)")
# A message that is itself "pkg.SomeException: …" (wrappers like CompletionException do this).
_WRAPPED = re.compile(r"^(?:[A-Za-z_$][\w$]*\.)+[A-Za-z_$][\w$]*(?:Exception|Error|Throwable)(?::\s|$)")
_FRAME = re.compile(r"^\s+(?:at |\.\.\. \d+ more)")
MAX_MESSAGE = 600


class FlinkRestError(Exception):
    """A failed call to the Flink REST API; the message is one readable line."""

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None,
                 detail: str | None = None) -> None:
        super().__init__(one_line(message))
        self.status = status
        self.url = url
        # Flink's own reason (e.g. the root cause), without our "GET /x at URL answered …" framing.
        self.detail = one_line(detail) if detail else str(self)


class FlinkUnavailable(FlinkRestError):
    """The REST API did not answer (in time)."""


class JobNotFound(FlinkRestError):
    """The JobManager does not know the job (never submitted, or forgotten after a restart without HA)."""


class SavepointFailed(FlinkRestError):
    """A savepoint (or stop-with-savepoint) did not complete."""


# --- making Java failures readable -------------------------------------------------------------


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """Collapse whitespace (newlines included) and cap the length."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _strip_wrappers(head: str) -> str:
    """'CompletionException: a.b.RealException: msg' → 'a.b.RealException: msg'."""
    while True:
        match = _EXCEPTION_HEAD.match(head)
        if not match or not match.group(0).endswith(" "):
            return head
        rest = head[match.end():]
        if not _WRAPPED.match(rest):
            return head
        head = rest


def root_cause_of(stacktrace: str) -> str:
    """The deepest cause of a Java stack trace as 'ExceptionClass: message' (no frames)."""
    lines = stacktrace.replace("\r\n", "\n").split("\n")
    # Flink wraps server-side stacks as "<Exception on server side:\n…\nEnd of exception on server side>".
    lines = [line for line in lines if not line.startswith("<Exception on server side")
             and "End of exception on server side" not in line]
    blocks: list[list[str]] = []
    in_header = False
    for line in lines:
        if line.startswith("Caused by: "):
            blocks.append([line[len("Caused by: "):]])
            in_header = True
        elif not blocks and line.strip():
            blocks.append([line])
            in_header = True
        elif in_header and line.strip() and not _FRAME.match(line) and not line.startswith("\t"):
            blocks[-1].append(line)  # a message spanning several lines
        else:
            in_header = False
    if not blocks:
        return one_line(stacktrace) or "unknown error"
    return one_line(_strip_wrappers(" ".join(blocks[-1]).strip()))


def error_message(body: Any, fallback: str) -> str:
    """One line from a Flink error body {"errors": [...]}: the root cause of a stack, else the text."""
    errors = body.get("errors") if isinstance(body, Mapping) else None
    if not errors:
        return one_line(fallback)
    stacks = [e for e in errors if isinstance(e, str) and ("\tat " in e or "\n" in e)]
    if stacks:
        return root_cause_of(stacks[-1])
    return one_line("; ".join(str(e) for e in errors))


# --- typed views of Flink's answers ---------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    flink_version: str
    taskmanagers: int
    slots_total: int
    slots_available: int

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Overview:
        return cls(
            flink_version=str(body.get("flink-version", "")),
            taskmanagers=int(body.get("taskmanagers", 0)),
            slots_total=int(body.get("slots-total", 0)),
            slots_available=int(body.get("slots-available", 0)),
        )

    @property
    def release(self) -> tuple[int, int]:
        match = re.match(r"(\d+)\.(\d+)", self.flink_version)
        return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


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
        return cls(
            job_id=str(body.get("jid", "")),
            name=str(body.get("name", "")),
            state=str(body.get("state", "")),
            start_time=int(body.get("start-time", 0) or 0),
            tasks=_task_counts(body.get("status-counts")),
            timestamps={str(k): int(v or 0) for k, v in (body.get("timestamps") or {}).items()},
            vertices=vertices,
        )

    @classmethod
    def from_overview(cls, entry: Mapping[str, Any]) -> JobStatus:
        return cls(
            job_id=str(entry.get("jid", "")),
            name=str(entry.get("name", "")),
            state=str(entry.get("state", "")),
            start_time=int(entry.get("start-time", 0) or 0),
            tasks=_task_counts(entry.get("tasks")),
        )

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


@dataclass(frozen=True)
class JarUpload:
    jar_id: str
    bytes_sent: int
    reused: bool


# --- streaming upload helpers -------------------------------------------------------------------


class _HashingReader:
    """A read-only file wrapper that hashes and counts what is streamed, so the upload verifies the
    jar's sha256 in the same single pass (no second read of a 1 GB file). Hashing runs on a helper
    thread (hashlib and socket writes both release the GIL), so it overlaps the send instead of adding
    to it; at most HASH_BACKLOG blocks wait for it, which bounds the memory."""

    HASH_BACKLOG = 8

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._sha256 = hashlib.sha256()
        self._hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jar-sha256")
        self._pending: deque[Future[None]] = deque()
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._raw.read(size)
        if chunk:
            # One worker: updates run in submission order.
            self._pending.append(self._hasher.submit(self._sha256.update, chunk))
            while len(self._pending) > self.HASH_BACKLOG:
                self._pending.popleft().result()
        self.bytes_read += len(chunk)
        return chunk

    def hexdigest(self) -> str:
        while self._pending:
            self._pending.popleft().result()
        self._hasher.shutdown()
        return self._sha256.hexdigest()

    def close(self) -> None:
        self._hasher.shutdown(wait=True, cancel_futures=True)

    # MultipartEncoder sizes the part from these (Content-Length, no chunked encoding).
    def fileno(self) -> int:
        return self._raw.fileno()

    def tell(self) -> int:
        return self._raw.tell()


class _BigBlockAdapter(HTTPAdapter):
    """urllib3 copies a streamed body in 16 KiB blocks by default; larger blocks keep pace with curl."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["blocksize"] = UPLOAD_BLOCK_SIZE
        super().init_poolmanager(*args, **kwargs)


def jar_upload_name(jar_path: str | os.PathLike[str], sha256: str) -> str:
    """The file name the jar is uploaded under: its stem plus its content hash, so the same content
    is recognised in `GET /jars` and a new content never collides with an old one."""
    stem = Path(jar_path).name
    stem = stem[: -len(JAR_SUFFIX)] if stem.endswith(JAR_SUFFIX) else stem
    stem = re.sub(r"[^\w.-]", "_", stem)[:80] or "job"
    return f"{stem}-{sha256}{JAR_SUFFIX}"


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(UPLOAD_BLOCK_SIZE):
            digest.update(block)
    return digest.hexdigest()


# --- the client ---------------------------------------------------------------------------------


class FlinkRestClient:
    """Flink REST calls with timeouts and one-line errors. `base_url` like http://host:8081."""

    def __init__(self, base_url: str, *, timeout: tuple[float, float] = REQUEST_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.mount("http://", _BigBlockAdapter())
        self.session.mount("https://", _BigBlockAdapter())
        self._overview: Overview | None = None

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> FlinkRestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _request(self, method: str, path: str, *, ok: Iterable[int] = (200, 202),
                 timeout: tuple[float, float] | None = None, **kwargs: Any) -> requests.Response:
        url = self.url(path)
        try:
            response = self.session.request(method, url, timeout=timeout or self.timeout, **kwargs)
        except requests.RequestException as error:
            reason = _describe_exception(error)
            raise FlinkUnavailable(f"Flink REST API at {self.base_url} did not answer {method} {path}: "
                                   f"{reason}", url=url, detail=reason) from None
        if response.status_code not in tuple(ok):
            raise _http_error(self.base_url, method, path, response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise FlinkRestError(f"{method} {path} at {self.base_url} answered HTTP {response.status_code} "
                                 f"with no JSON: {response.text[:200]}", status=response.status_code,
                                 url=response.url) from None

    def get_json(self, path: str, **kwargs: Any) -> Any:
        """GET a path's JSON with this client's timeouts and one-line errors (for flink_rest_health)."""
        return self._json("GET", path, **kwargs)

    # -- cluster ----------------------------------------------------------------------------------

    def overview(self) -> Overview:
        self._overview = Overview.from_json(self._json("GET", "/overview"))
        return self._overview

    def cluster_option(self, key: str) -> str | None:
        """One option of the JobManager's effective configuration (GET /jobmanager/config)."""
        for entry in self._json("GET", "/jobmanager/config"):
            if entry.get("key") == key:
                return str(entry.get("value"))
        return None

    def flink_version(self) -> str:
        return (self._overview or self.overview()).flink_version

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

    # -- jars -------------------------------------------------------------------------------------

    def list_jars(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/jars").get("files") or [])

    def find_jar(self, name: str) -> str | None:
        """The id of an uploaded jar with this exact original file name (newest first), if any."""
        matches = [f for f in self.list_jars() if f.get("name") == name]
        matches.sort(key=lambda f: int(f.get("uploaded", 0)), reverse=True)
        return str(matches[0]["id"]) if matches else None

    def upload_jar(self, jar_path: str | os.PathLike[str], *, name: str | None = None,
                   expected_sha256: str | None = None) -> JarUpload:
        """Stream a jar to POST /jars/upload (memory use independent of its size). With
        `expected_sha256`, the streamed bytes are hashed and a mismatch removes the upload and fails."""
        path = Path(jar_path)
        upload_name = name or path.name
        if not upload_name.endswith(JAR_SUFFIX):
            raise FlinkRestError(f"Flink only accepts jar files whose name ends in .jar, not '{upload_name}'")
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed after the streamed request
        except OSError as error:
            raise FlinkRestError(f"cannot read the job jar {path}: {error.strerror or error}") from None
        reader = _HashingReader(handle)
        try:
            part = (upload_name, reader, "application/x-java-archive")
            encoder = MultipartEncoder(fields={"jarfile": part})
            body = self._json("POST", "/jars/upload", data=encoder, timeout=UPLOAD_TIMEOUT,
                              headers={"Content-Type": encoder.content_type})
            digest = reader.hexdigest()
        finally:
            reader.close()
            handle.close()
        if body.get("status") != "success" or not body.get("filename"):
            raise FlinkRestError(f"Flink refused the jar upload of {path}: {one_line(str(body))[:300]}")
        jar_id = Path(str(body["filename"])).name
        if expected_sha256 and digest != expected_sha256:
            self.delete_jar(jar_id)
            raise FlinkRestError(f"the jar {path} changed: its sha256 is {digest}, expected {expected_sha256} "
                                 "(run `pulumi up` again to pick up the new jar)")
        return JarUpload(jar_id=jar_id, bytes_sent=reader.bytes_read, reused=False)

    def ensure_jar(self, jar_path: str | os.PathLike[str], sha256: str) -> JarUpload:
        """Reuse a jar already uploaded with this content (matched by the hash in its name), else
        upload it."""
        if not _SHA256.match(sha256):
            raise FlinkRestError(f"'{sha256}' is not a sha256 hex digest")
        name = jar_upload_name(jar_path, sha256)
        existing = self.find_jar(name)
        if existing:
            return JarUpload(jar_id=existing, bytes_sent=0, reused=True)
        return self.upload_jar(jar_path, name=name, expected_sha256=sha256)

    def delete_jar(self, jar_id: str) -> None:
        self._request("DELETE", f"/jars/{jar_id}", ok=(200, 202, 404))

    def run_jar(self, jar_id: str, *, entry_class: str | None = None, args: Sequence[str] = (),
                parallelism: int | None = None, job_id: str | None = None,
                savepoint_path: str | None = None, allow_non_restored_state: bool = False,
                configuration: Mapping[str, Any] | None = None) -> str:
        """POST /jars/{id}/run with everything in the JSON body (the query-parameter and `programArgs`
        string forms are gone in 2.x). Returns the job id."""
        body: dict[str, Any] = {"programArgsList": list(args),
                                "allowNonRestoredState": allow_non_restored_state}
        if entry_class:
            body["entryClass"] = entry_class
        if parallelism:
            body["parallelism"] = parallelism
        if job_id:
            body["jobId"] = job_id
        if savepoint_path:
            body["savepointPath"] = savepoint_path
        if configuration:
            # FLIP-256: per-job configuration in the run request, since Flink 1.17.
            if (self._overview or self.overview()).release < (1, 17):
                raise FlinkRestError(f"Flink {self.flink_version()} cannot take job configuration in the "
                                     "run request (needs 1.17+); put it in the cluster configuration")
            body["flinkConfiguration"] = {str(k): _config_value(v) for k, v in configuration.items()}
        # Running main() and building the graph happens inside this call: allow for slow programs.
        result = self._json("POST", f"/jars/{jar_id}/run", json=body, timeout=(self.timeout[0], 300.0))
        return str(result["jobid"])

    # -- jobs -------------------------------------------------------------------------------------

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

    def latest_savepoint(self, job_id: str) -> str | None:
        """The path of the job's latest completed savepoint, from its checkpoint statistics."""
        try:
            body = self._json("GET", f"/jobs/{job_id}/checkpoints")
        except (JobNotFound, FlinkRestError):
            return None
        savepoint = ((body.get("latest") or {}).get("savepoint")) or {}
        path = savepoint.get("external_path")
        return str(path) if path and savepoint.get("status", "COMPLETED") == "COMPLETED" else None

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

    def trigger_stop(self, job_id: str, target_directory: str | None, *, drain: bool = False) -> str:
        body: dict[str, Any] = {"drain": drain}
        if target_directory:
            body["targetDirectory"] = target_directory
        return str(self._json("POST", f"/jobs/{job_id}/stop", json=body)["request-id"])

    def savepoint_status(self, job_id: str, trigger_id: str) -> tuple[str, str | None, str | None]:
        """(status, location, failure) of a savepoint/stop trigger."""
        body = self._json("GET", f"/jobs/{job_id}/savepoints/{trigger_id}")
        status = str((body.get("status") or {}).get("id", ""))
        operation = body.get("operation") or {}
        failure = operation.get("failure-cause")
        cause = None
        if failure:
            cause = root_cause_of(str(failure.get("stack-trace") or failure.get("class") or failure))
        return status, operation.get("location"), cause

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


def _config_value(value: Any) -> str:
    """Flink's run request takes string values: booleans lower-case, lists ';'-joined."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ";".join(_config_value(v) for v in value)
    return str(value)


def _describe_exception(error: BaseException) -> str:
    """'connection refused' rather than urllib3's nested repr."""
    text = str(error)
    for marker in ("Connection refused", "Name or service not known", "timed out", "Connection reset",
                   "Temporary failure in name resolution", "No route to host", "Remote end closed"):
        if marker.lower() in text.lower():
            return marker.lower()
    return one_line(f"{type(error).__name__}: {text}", 300)


def _http_error(base_url: str, method: str, path: str, response: requests.Response) -> FlinkRestError:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    detail = error_message(body, response.text[:300] or response.reason or "")
    status = response.status_code
    if status == 413:
        detail += " (raise the cluster's rest.server.max-content-length to upload bigger jars)"
    message = f"{method} {path} at {base_url} answered HTTP {status}: {detail}"
    kind = JobNotFound if status == 404 and path.startswith("/jobs/") else FlinkRestError
    return kind(message, status=status, url=response.url, detail=detail)
