"""FlinkJob: a Flink job on a session cluster as a Pulumi dynamic resource.

`pulumi up` submits the job through the REST API and returns only once the job and every one of its
tasks is RUNNING; a change to the jar, entry class, arguments, parallelism or job configuration is
an upgrade (stop with a savepoint and restore, or cancel and resubmit); `pulumi destroy` stops it.
The behaviour follows the Apache Flink Kubernetes Operator's session-job handling.

The provider class is pickled *by reference* into the state (dill), so this module must keep its path
and import without side effects; it holds no data of its own. REST details live in `flink_rest`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import pulumi
import pulumi.dynamic as dynamic

from components.flink_job_health import HEALTH_KEYS, MAX_CHECKPOINT_AGE_INPUT, drifted
from components.flink_rest import (
    FlinkRestClient,
    FlinkRestError,
    JobStatus,
    SavepointFailed,
    one_line,
)
from components.flink_rest_health import job_health_outputs
from components.unknowns import is_unknown

UpgradeMode = Literal["savepoint", "stateless"]
UPGRADE_MODES: tuple[str, ...] = ("savepoint", "stateless")

DEFAULT_REST_DEADLINE_S = 300.0
DEFAULT_START_DEADLINE_S = 300.0
DEFAULT_SAVEPOINT_DEADLINE_S = 600.0
# How long read/delete wait for an unreachable REST API before giving up.
READ_DEADLINE_S = 30.0
# The state a refresh records for a job a JobManager restart forgot, when a savepoint can bring it back.
VANISHED = "VANISHED"
# Enough for any realistic number of update/create cycles of one job on one JobManager.
MAX_JOB_ID_ATTEMPTS = 64
POLL_INTERVAL_S = 0.1
SLOT_GRACE_S = 5.0

# Inputs whose change means a new job version (resubmission); others only update outputs.
JOB_KEYS = ("jar_sha256", "entry_class", "args", "parallelism", "flink_configuration")
INPUT_KEYS = JOB_KEYS + (
    "rest_url", "jar_path", "upgrade_mode", "savepoint_dir", "allow_non_restored_state", "job_name",
    "initial_savepoint_path", "ui_url", "rest_deadline_seconds", "start_deadline_seconds",
    "savepoint_deadline_seconds", MAX_CHECKPOINT_AGE_INPUT,
)
OUTPUT_KEYS = ("job_id", "jar_id", "state", "flink_version", "start_time", "job_ui_url", "last_savepoint",
               "effective_upgrade_mode")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_URL = re.compile(r"^https?://[^\s/]+")

T = TypeVar("T")


class FlinkJobError(Exception):
    """A deployment step failed; the message is one readable line (the provider host prints a
    traceback, whose last line is this message)."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message, 1000))


# --- inputs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """The validated inputs of one FlinkJob."""

    rest_url: str
    jar_path: str
    jar_sha256: str
    job_name: str
    entry_class: str | None = None
    args: tuple[str, ...] = ()
    parallelism: int | None = None
    upgrade_mode: str | None = None
    savepoint_dir: str | None = None
    allow_non_restored_state: bool = False
    flink_configuration: Mapping[str, str] = field(default_factory=dict)
    initial_savepoint_path: str | None = None
    ui_url: str | None = None
    rest_deadline_seconds: float = DEFAULT_REST_DEADLINE_S
    start_deadline_seconds: float = DEFAULT_START_DEADLINE_S
    savepoint_deadline_seconds: float = DEFAULT_SAVEPOINT_DEADLINE_S

    @property
    def effective_upgrade_mode(self) -> UpgradeMode:
        """`savepoint` needs somewhere to put savepoints; without one the job is upgraded stateless."""
        if self.upgrade_mode == "stateless" or not self.savepoint_dir:
            return "stateless"
        return "savepoint"

    @property
    def fingerprint(self) -> str:
        """What makes a job version: its content, not where it is sent or how it is upgraded."""
        material = json.dumps({key: _plain(getattr(self, key)) for key in JOB_KEYS}, sort_keys=True)
        return hashlib.sha256(material.encode()).hexdigest()

    def job_id(self, attempt: int) -> str:
        """A Flink JobID (32 hex) derived from the resource and this job version: a create retried after
        a crash computes the same ids and finds the job it started. `attempt` skips ids Flink still
        remembers as finished (it refuses to reuse them)."""
        material = f"flink-hologres\0{self.job_name}\0{self.fingerprint}\0{attempt}"
        return hashlib.sha256(material.encode()).hexdigest()[:32]

    def ui_link(self, job_id: str) -> str:
        return f"{(self.ui_url or self.rest_url).rstrip('/')}/#/job/running/{job_id}/overview"


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def validate(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(property, reason) for every known input that is wrong; unknown values are accepted."""
    failures: list[tuple[str, str]] = []

    def require(key: str, ok: Callable[[Any], bool], reason: str, *, required: bool = False) -> None:
        if is_unknown(props.get(key)):
            return
        value = props.get(key)
        if value is None or value == "":
            if required:
                failures.append((key, "is required"))
            return
        if not ok(value):
            failures.append((key, reason.format(value=value)))

    require("rest_url", lambda v: isinstance(v, str) and bool(_URL.match(v)),
            "'{value}' is not an http(s):// URL of the Flink REST API", required=True)
    require("jar_path", lambda v: isinstance(v, str), "must be a path", required=True)
    require("jar_sha256", lambda v: isinstance(v, str) and bool(_SHA256.match(v)),
            "'{value}' is not a lowercase sha256 hex digest", required=True)
    require("job_name", lambda v: isinstance(v, str) and bool(v.strip()), "must not be blank", required=True)
    require("entry_class", lambda v: isinstance(v, str) and bool(re.match(r"^[\w$.]+$", v)),
            "'{value}' is not a Java class name")
    require("args", lambda v: isinstance(v, (list, tuple)) and all(isinstance(a, str) for a in v),
            "must be a list of strings")
    require("parallelism", lambda v: isinstance(v, (int, float)) and int(v) == v and v >= 1,
            "'{value}' is not a whole number ≥ 1")
    require("upgrade_mode", lambda v: v in UPGRADE_MODES, "'{value}' is not savepoint or stateless")
    require("allow_non_restored_state", lambda v: isinstance(v, bool), "must be true or false")
    require("flink_configuration", lambda v: isinstance(v, Mapping), "must be a map of Flink options")
    for key in ("rest_deadline_seconds", "start_deadline_seconds", "savepoint_deadline_seconds"):
        require(key, lambda v: isinstance(v, (int, float)) and v > 0, "'{value}' is not a positive number")
    return failures


def spec_from(props: Mapping[str, Any]) -> JobSpec:
    """A JobSpec from fully known inputs (or old outputs); invalid inputs fail in one line."""
    failures = validate(props)
    if failures:
        raise FlinkJobError("invalid FlinkJob inputs: " + "; ".join(f"{k} {r}" for k, r in failures))

    def number(key: str, default: float) -> float:
        value = props.get(key)
        return float(value) if value not in (None, "") else default

    parallelism = props.get("parallelism")
    return JobSpec(
        rest_url=str(props["rest_url"]).rstrip("/"),
        jar_path=str(props["jar_path"]),
        jar_sha256=str(props["jar_sha256"]),
        job_name=str(props["job_name"]),
        entry_class=props.get("entry_class") or None,
        args=tuple(str(a) for a in props.get("args") or ()),
        parallelism=int(parallelism) if parallelism else None,
        upgrade_mode=props.get("upgrade_mode") or None,
        savepoint_dir=props.get("savepoint_dir") or None,
        allow_non_restored_state=bool(props.get("allow_non_restored_state") or False),
        flink_configuration={str(k): str(v) for k, v in (props.get("flink_configuration") or {}).items()},
        initial_savepoint_path=props.get("initial_savepoint_path") or None,
        ui_url=props.get("ui_url") or None,
        rest_deadline_seconds=number("rest_deadline_seconds", DEFAULT_REST_DEADLINE_S),
        start_deadline_seconds=number("start_deadline_seconds", DEFAULT_START_DEADLINE_S),
        savepoint_deadline_seconds=number("savepoint_deadline_seconds", DEFAULT_SAVEPOINT_DEADLINE_S),
    )


def job_changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    return any(_plain(olds.get(key)) != _plain(news.get(key)) for key in JOB_KEYS)


# --- the provider ----------------------------------------------------------------------------------


def _readable(fn: Callable[..., T]) -> Callable[..., T]:
    """Turn any failure into one FlinkJobError line, raised `from None` (no chained Java-ish noise)."""

    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except (FlinkJobError, FlinkRestError) as error:
            raise FlinkJobError(str(error)) from None
        except Exception as error:  # noqa: BLE001 - whatever it is, the engine shows one readable line
            raise FlinkJobError(f"{fn.__name__} failed: {type(error).__name__}: {error}") from None

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def _warn(message: str) -> None:
    # In the provider host there is no engine connection: pulumi.log writes to stderr, which the
    # engine shows with the resource.
    pulumi.log.warn(message)


def _iso(millis: int) -> str | None:
    return datetime.fromtimestamp(millis / 1000, UTC).isoformat() if millis > 0 else None


def current_job_id(resource_id: str, outputs: Mapping[str, Any]) -> str:
    """The job running now. The engine keeps a resource's id for life, but every upgrade starts a new
    Flink job: its id is the `job_id` output, not the resource id."""
    return str(outputs.get("job_id") or resource_id)


class FlinkJobProvider(dynamic.ResourceProvider):
    """Create/read/update/delete of one Flink job through the REST API."""

    # Nothing secret is captured: the provider is a class reference without data.
    serialize_as_secret_always = False

    # -- preview-safe ---------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        failures = [dynamic.CheckFailure(key, reason) for key, reason in validate(news)]
        return dynamic.CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        # olds are the previous *outputs* (a superset of the inputs); never call Flink here.
        changed = [key for key in INPUT_KEYS
                   if is_unknown(news.get(key)) or _plain(olds.get(key)) != _plain(news.get(key))]
        vanished = olds.get("state") == VANISHED  # refresh found the job gone: resubmit it
        # health hook (issue 13): an unhealthy job recorded by refresh is drift, which `pulumi up` re-baselines.
        return dynamic.DiffResult(changes=bool(changed) or vanished or drifted(olds), replaces=[],
                                  delete_before_replace=False)

    # -- create ---------------------------------------------------------------------------------

    @_readable
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        spec = spec_from(props)
        with FlinkRestClient(spec.rest_url) as client:
            client.wait_until_ready(spec.rest_deadline_seconds)
            outs = self._deploy(client, spec, restore_from=spec.initial_savepoint_path)
            outs.update(job_health_outputs(client, outs["job_id"], props, reset_baseline=True,  # health hook
                                           just_started=True))
        return dynamic.CreateResult(outs["job_id"], {**props, **outs})

    def _deploy(self, client: FlinkRestClient, spec: JobSpec, *, restore_from: str | None,
                check_slots: bool = True) -> dict[str, Any]:
        """Find the job this spec already started, or start it; then wait for it to be healthy."""
        job_id, existing = self._find_job(client, spec)
        if existing is None:
            if check_slots:
                self._check_slots(client, spec, credit=0)
            jar = client.ensure_jar(spec.jar_path, spec.jar_sha256)
            jar_id = jar.jar_id
            try:
                client.run_jar(jar_id, entry_class=spec.entry_class, args=spec.args,
                               parallelism=spec.parallelism, job_id=job_id, savepoint_path=restore_from,
                               allow_non_restored_state=spec.allow_non_restored_state,
                               configuration=spec.flink_configuration)
            except FlinkRestError as error:
                restore = f" (restore from savepoint {restore_from})" if restore_from else ""
                raise FlinkJobError(f"Flink at {spec.rest_url} could not start job '{spec.job_name}' "
                                    f"(entry class {spec.entry_class or 'from the jar manifest'}){restore}: "
                                    f"{error.detail}") from None
        else:
            # A create/update retried after a crash: adopt the job it started, upload nothing.
            jar_id = client.ensure_jar(spec.jar_path, spec.jar_sha256).jar_id
        status = self._wait_healthy(client, spec, job_id, restore_from)
        return {
            "job_id": job_id,
            "jar_id": jar_id,
            "state": status.state,
            "flink_version": client.flink_version(),
            "start_time": _iso(status.start_time),
            "job_ui_url": spec.ui_link(job_id),
            "last_savepoint": restore_from,
            "effective_upgrade_mode": spec.effective_upgrade_mode,
        }

    @staticmethod
    def _find_job(client: FlinkRestClient, spec: JobSpec) -> tuple[str, JobStatus | None]:
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

    @staticmethod
    def _check_slots(client: FlinkRestClient, spec: JobSpec, *, credit: int) -> None:
        """Fail at once rather than leave the job in SCHEDULED for minutes. `credit`: slots that the
        job being replaced will give back."""
        needed = spec.parallelism or int(client.cluster_option("parallelism.default") or 1)
        overview = client.overview()
        # Slots of a job that just ended come back a moment later: a short grace when they could.
        grace_until = time.monotonic() + SLOT_GRACE_S
        while overview.slots_available + credit < needed <= overview.slots_total and time.monotonic() < grace_until:
            time.sleep(POLL_INTERVAL_S)
            overview = client.overview()
        free = overview.slots_available + credit
        if needed > free:
            raise FlinkJobError(
                f"job '{spec.job_name}' needs {needed} task slots (parallelism) but the Flink cluster at "
                f"{spec.rest_url} has {free} free ({overview.slots_total} in total); lower the parallelism "
                "or add TaskManagers/slots")

    @staticmethod
    def _wait_healthy(client: FlinkRestClient, spec: JobSpec, job_id: str,
                      restore_from: str | None) -> JobStatus:
        """Until the job and all its tasks are RUNNING; a failure or restart in that window cancels it and
        fails with the root cause. Polls the live job overview; the exception history (cached by Flink
        for up to 3 s) is consulted once a second and before declaring success."""
        deadline = time.monotonic() + spec.start_deadline_seconds
        restore = f"; restore from savepoint {restore_from}" if restore_from else ""
        next_history_check = 0.0
        while True:
            status = client.job_summary(job_id)
            if status is None:
                raise FlinkJobError(f"job '{spec.job_name}' ({job_id}) vanished from {spec.rest_url} while "
                                    f"starting{restore}")
            now = time.monotonic()
            cause = None
            if status.failing or status.all_tasks_running or now >= next_history_check:
                cause = client.root_cause(job_id)
                next_history_check = now + 1.0
            if status.failing or cause:
                client.cancel(job_id)
                cause = cause or FlinkJobProvider._await_root_cause(client, job_id) or f"state {status.state}"
                raise FlinkJobError(f"job '{spec.job_name}' ({job_id}) failed while starting: {cause}{restore}")
            if status.all_tasks_running or status.state == "FINISHED":
                return status
            if now >= deadline:
                detail = (client.job_or_none(job_id) or status).describe_tasks()
                client.cancel(job_id)
                raise FlinkJobError(f"job '{spec.job_name}' ({job_id}) was not running within "
                                    f"{spec.start_deadline_seconds:g}s (job {status.state}; {detail}){restore}")
            time.sleep(POLL_INTERVAL_S)

    @staticmethod
    def _await_root_cause(client: FlinkRestClient, job_id: str, wait_s: float = 5.0) -> str | None:
        """The exception history lags the job state by up to Flink's cache interval."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            cause = client.root_cause(job_id)
            if cause:
                return cause
            time.sleep(0.25)
        return None

    # -- read -----------------------------------------------------------------------------------

    @_readable
    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        spec = spec_from(props)
        job_id = current_job_id(id_, props)
        with FlinkRestClient(spec.rest_url) as client:
            client.wait_until_ready(min(spec.rest_deadline_seconds, READ_DEADLINE_S), need_taskmanagers=False)
            status = client.job_summary(job_id)
            if status is None and spec.effective_upgrade_mode == "savepoint" and props.get("last_savepoint"):
                # Forgotten by a JobManager restarted without HA, but we know a savepoint: keep the
                # resource, marked VANISHED, so the next `up` resubmits it from there, not from nothing.
                return dynamic.ReadResult(id_, {**props, "state": VANISHED})
            if status is None or status.terminal:
                # Ended, or forgotten without a savepoint to go back to: missing, so `up` resubmits.
                return dynamic.ReadResult("", {})
            return dynamic.ReadResult(id_, {**props, "state": status.state,
                                            "flink_version": client.flink_version(),
                                            "start_time": _iso(status.start_time),
                                            **job_health_outputs(client, job_id, props, reset_baseline=False)})

    # -- update ---------------------------------------------------------------------------------

    @_readable
    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        # The default update would wipe the outputs: always return all of them.
        spec = spec_from(news)
        job_id = current_job_id(id_, olds)
        carried = {key: olds.get(key) for key in OUTPUT_KEYS}
        if not job_changed(olds, news) and olds.get("state") != VANISHED:
            return dynamic.UpdateResult({**news, **carried, "job_id": job_id,
                                         "effective_upgrade_mode": spec.effective_upgrade_mode,
                                         "job_ui_url": spec.ui_link(job_id),
                                         **job_health_outputs(spec.rest_url, job_id, {**olds, **news},
                                                              reset_baseline=True)})
        mode = spec.effective_upgrade_mode
        if spec.upgrade_mode != "stateless" and mode == "stateless":
            _warn(f"job '{spec.job_name}': no savepoint_dir, so the upgrade is stateless (the job's state "
                  "is dropped); set savepoint_dir to upgrade through a savepoint")
        with FlinkRestClient(spec.rest_url) as client:
            client.wait_until_ready(spec.rest_deadline_seconds)
            old = client.job_summary(job_id)  # live: Flink's cached job view may still say RUNNING
            # Fail before touching the old job if the new one could not get its slots.
            detail = client.job_or_none(job_id) if old and not old.terminal else None
            self._check_slots(client, spec, credit=detail.slots_used if detail else 0)
            restore_from = self._stop_old(client, spec, job_id, old, mode,
                                          known_savepoint=olds.get("last_savepoint"))
            outs = self._deploy(client, spec, restore_from=restore_from, check_slots=False)
            outs.update(job_health_outputs(client, outs["job_id"], news, reset_baseline=True,  # health hook
                                           just_started=True))
        if restore_from is None:
            outs["last_savepoint"] = olds.get("last_savepoint")
        return dynamic.UpdateResult({**news, **outs})

    @staticmethod
    def _stop_old(client: FlinkRestClient, spec: JobSpec, job_id: str, old: JobStatus | None,
                  mode: str, known_savepoint: str | None = None) -> str | None:
        """Stop the running version; in savepoint mode return the savepoint to restore from."""
        if old is None or old.terminal:
            return FlinkJobProvider._savepoint_of_ended(client, spec, job_id, mode, known_savepoint)
        if mode == "stateless":
            client.cancel(job_id)
            client.wait_for_terminal(job_id, spec.savepoint_deadline_seconds)
            return None
        try:
            savepoint = client.stop_with_savepoint(job_id, spec.savepoint_dir,
                                                   spec.savepoint_deadline_seconds)
        except SavepointFailed as error:
            now = client.job_summary(job_id)
            if now is None or now.terminal:  # it ended meanwhile, on its own
                return FlinkJobProvider._savepoint_of_ended(client, spec, job_id, mode, known_savepoint)
            raise FlinkJobError(f"upgrade of job '{spec.job_name}' stopped: {error.detail}; the old job "
                                f"{job_id} keeps running (state {now.state}), nothing was changed") from None
        client.wait_for_terminal(job_id, spec.savepoint_deadline_seconds)
        return savepoint

    @staticmethod
    def _savepoint_of_ended(client: FlinkRestClient, spec: JobSpec, job_id: str, mode: str,
                            known_savepoint: str | None = None) -> str | None:
        """The old job is already over, e.g. an update retried after it stopped the job and then failed:
        Flink still lists that job's savepoint in its checkpoint statistics. A JobManager restarted
        without HA has forgotten the job: then the last savepoint the state knows is the way back."""
        savepoint = (client.latest_savepoint(job_id) or known_savepoint) if mode == "savepoint" else None
        if mode == "savepoint" and savepoint is None:
            _warn(f"job '{spec.job_name}' ({job_id}) has ended or is gone from {spec.rest_url} without a "
                  "savepoint; submitting the new version without state")
        return savepoint

    # -- delete ---------------------------------------------------------------------------------

    @_readable
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        spec = spec_from(props)
        id_ = current_job_id(id_, props)
        with FlinkRestClient(spec.rest_url) as client:
            client.wait_until_ready(min(spec.rest_deadline_seconds, READ_DEADLINE_S), need_taskmanagers=False)
            status = client.job_summary(id_)
            if status is None or status.terminal:
                return  # already gone: nothing to stop
            if spec.effective_upgrade_mode == "savepoint":
                try:
                    client.stop_with_savepoint(id_, spec.savepoint_dir, spec.savepoint_deadline_seconds)
                except SavepointFailed as error:
                    now = client.job_summary(id_)
                    if now is None or now.terminal:
                        return  # it ended on its own meanwhile
                    raise FlinkJobError(f"the final savepoint of job '{spec.job_name}' ({id_}) failed: "
                                        f"{error.detail}; the job keeps running (set upgrade_mode stateless "
                                        "to stop it without a savepoint)") from None
            else:
                client.cancel(id_)
            client.wait_for_terminal(id_, spec.savepoint_deadline_seconds)


# --- the resource ----------------------------------------------------------------------------------


@dataclass(kw_only=True)
class FlinkJobArgs:
    """Inputs of a FlinkJob. `jar_sha256` makes a rebuilt jar a change even under the same path."""

    rest_url: pulumi.Input[str]
    jar_path: pulumi.Input[str]
    jar_sha256: pulumi.Input[str]
    entry_class: pulumi.Input[str] | None = None
    args: pulumi.Input[Sequence[pulumi.Input[str]]] = field(default_factory=list)
    parallelism: pulumi.Input[int] | None = None
    upgrade_mode: pulumi.Input[str] | None = None
    savepoint_dir: pulumi.Input[str] | None = None
    allow_non_restored_state: pulumi.Input[bool] = False
    flink_configuration: pulumi.Input[Mapping[str, pulumi.Input[str]]] = field(default_factory=dict)
    # Stable identity of the job (derives its Flink job id); defaults to project/stack/resource name.
    job_name: pulumi.Input[str] | None = None
    # Restore the very first submission from this savepoint (e.g. one taken by hand).
    initial_savepoint_path: pulumi.Input[str] | None = None
    # Base of the web UI link in the outputs when people reach the UI elsewhere than rest_url.
    ui_url: pulumi.Input[str] | None = None
    rest_deadline_seconds: pulumi.Input[float] = DEFAULT_REST_DEADLINE_S
    start_deadline_seconds: pulumi.Input[float] = DEFAULT_START_DEADLINE_S
    savepoint_deadline_seconds: pulumi.Input[float] = DEFAULT_SAVEPOINT_DEADLINE_S
    # Health (issue 13): a running job whose last completed checkpoint is older shows as drift; 0: off.
    max_checkpoint_age_seconds: pulumi.Input[float] | None = None

    def props(self, *, default_job_name: str) -> dict[str, Any]:
        """The resource's input properties (snake_case keys, as the provider reads them)."""
        props = {key: getattr(self, key) for key in INPUT_KEYS}
        props["job_name"] = self.job_name or default_job_name
        return props


class FlinkJob(dynamic.Resource, module="flink", name="Job"):
    """A Flink job on a session cluster: `pulumi-python:dynamic/flink:Job`."""

    job_id: pulumi.Output[str]
    jar_id: pulumi.Output[str]
    state: pulumi.Output[str]
    flink_version: pulumi.Output[str]
    start_time: pulumi.Output[str]
    job_ui_url: pulumi.Output[str]
    last_savepoint: pulumi.Output[str | None]
    effective_upgrade_mode: pulumi.Output[str]

    def __init__(self, name: str, args: FlinkJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if args.upgrade_mode != "stateless" and not args.savepoint_dir:
            pulumi.log.warn(f"FlinkJob {name}: no savepoint directory, so upgrades and destroy are stateless "
                            "(the job's state is dropped); set savepointDir to keep it")
        props = args.props(default_job_name=f"{pulumi.get_project()}/{pulumi.get_stack()}/{name}")
        # Arguments and job options may carry credentials: given as Outputs (e.g. secret config), their
        # copies in the resource's outputs are stored as secrets too, whatever the provider returns.
        secret_outputs = [key for key in ("args", "flink_configuration") if isinstance(props[key], pulumi.Output)]
        if secret_outputs:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=secret_outputs))
        super().__init__(FlinkJobProvider(), name, {**props, **{key: None for key in OUTPUT_KEYS + HEALTH_KEYS}}, opts)
