"""The plumbing of the Flink REST client (1.18, 1.20, 2.x), on `requests`. No Pulumi here.

A session with timeouts, the pinned CA and basic auth of the REST proxy (issue 12), and one-line errors:
Flink answers failures with Java stack traces, and a deployment tool should show the cause, not 200 lines
of `at …`. The calls build on it: jars (flink_rest_jars), snapshots (flink_rest_snapshots), jobs and the
client itself (flink_rest).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter

# (connect, read) seconds for ordinary calls. The upload's read timeout is longer: Flink answers
# only after it has written the whole jar to disk.
REQUEST_TIMEOUT: tuple[float, float] = (5.0, 30.0)
UPLOAD_TIMEOUT: tuple[float, float] = (5.0, 600.0)
# Bytes handed to the socket per write while streaming a jar: big enough that Python's per-call
# cost disappears next to the copy, small enough not to matter for memory.
UPLOAD_BLOCK_SIZE = 1 << 20

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


# --- the session ---------------------------------------------------------------------------------


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


class _BigBlockAdapter(HTTPAdapter):
    """urllib3 copies a streamed body in 16 KiB blocks by default; larger blocks keep pace with curl.

    With a pinned CA (`pinned`), the chain is verified against that CA only, but the certificate's names are
    not matched against the URL's host: the CA is the program's own, made for the one proxy certificate,
    so whatever chains to it is that proxy, whichever address reaches it (a kubeconfig cluster's
    LoadBalancer or NodePort, a node IP; names the certificate cannot know when it is made)."""

    def __init__(self, *, pinned: bool = False) -> None:
        self._pinned = pinned
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["blocksize"] = UPLOAD_BLOCK_SIZE
        if self._pinned:
            kwargs["assert_hostname"] = False
        super().init_poolmanager(*args, **kwargs)


def _pinned_ca_file(ca_pem: str) -> str:
    """requests verifies against a CA bundle file: a private one holding only the pinned CA."""
    handle, path = tempfile.mkstemp(prefix="flink-rest-ca-", suffix=".pem")
    with os.fdopen(handle, "w") as out:
        out.write(ca_pem)
    return path


class RestSession:
    """Flink REST calls with timeouts and one-line errors. `base_url` like http://host:8081."""

    def __init__(self, base_url: str, *, timeout: tuple[float, float] = REQUEST_TIMEOUT,
                 ca_pem: str | None = None, auth: tuple[str, str] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.mount("http://", _BigBlockAdapter())
        self.session.mount("https://", _BigBlockAdapter(pinned=bool(ca_pem)))
        self._overview: Overview | None = None
        # Issue 12: the REST proxy's CA is pinned (the only one trusted, never verify=False); basic auth.
        self._ca_file = _pinned_ca_file(ca_pem) if ca_pem else None
        if self._ca_file:
            self.session.verify = self._ca_file
        if auth:
            self.session.auth = auth

    def close(self) -> None:
        self.session.close()
        if self._ca_file:
            Path(self._ca_file).unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def _request(self, method: str, path: str, *, ok: Iterable[int] = (200, 202),
                 timeout: tuple[float, float] | None = None, **kwargs: Any) -> requests.Response:
        url = self.url(path)
        if self._ca_file:
            kwargs["verify"] = self._ca_file  # per request: REQUESTS_CA_BUNDLE would override the session's
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
