"""FlinkJob: a Flink job on a session cluster as a Pulumi dynamic resource.

`pulumi up` submits the job through the REST API and returns once it passed the health gate (every task
RUNNING, then `job_stable_seconds` without a restart); a change to the jar, entry class, arguments,
parallelism or job configuration is an upgrade (stop with a savepoint, restore from the newest retained
checkpoint, or cancel and resubmit) that rolls back to the previous version when the new one fails;
`desired_state: suspended` stops it with a snapshot and keeps the resource; `pulumi destroy` stops it.
The behaviour follows the Apache Flink Kubernetes Operator's session-job handling, plus rollback.

State and Flink agree after every operation, as far as the engine allows (pulumi/pulumi
`backend/snapshot.go`: a failed update keeps the old inputs and outputs, whatever the provider did):
a failed upgrade is rolled back before it raises, so the old state is true again; the job that runs a
resource is found by its derived ids, not only by the recorded `job_id`; `read` keeps an ended job
with a known snapshot as VANISHED (restorable) instead of dropping it.

The provider class is pickled *by reference* into the state (dill), so this module must keep its path
and import without side effects; it holds no data of its own. Inputs: `flink_job_spec`; start, stop
and rollback: `flink_job_upgrade`; REST: `flink_rest`, `flink_rest_snapshots`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pulumi
import pulumi.dynamic as dynamic

from components import flink_rest_access
from components.flink_job_capacity import reserve_slots
from components.flink_job_health import HEALTH_KEYS, drifted
from components.flink_job_spec import (
    CLUSTER_KEYS,
    DEFAULT_REST_DEADLINE_S,
    DEFAULT_SAVEPOINT_DEADLINE_S,
    DEFAULT_START_DEADLINE_S,
    INPUT_KEYS,
    JOB_KEYS,
    OUTPUT_KEYS,
    REPLACE_KEYS,
    SINK_KEY,
    FlinkJobError,
    JobSpec,
    changed,
    job_changed,
    plain,
    spec_from,
    validate,
)
from components.flink_job_upgrade import (
    SUSPENDED,
    VANISHED,
    Stopped,
    current_job,
    deploy,
    ended_snapshot,
    iso,
    predecessor,
    roll_back,
    take_snapshot,
)
from components.flink_rest import FlinkRestClient, FlinkRestError, FlinkUnavailable, JobStatus, SavepointFailed
from components.flink_rest_health import job_health_outputs
from components.flink_rest_snapshots import dispose_savepoint
from components.unknowns import is_unknown

__all__ = ["FlinkJob", "FlinkJobArgs", "FlinkJobError", "FlinkJobProvider", "JobSpec", "SUSPENDED", "VANISHED",
           "spec_from", "validate"]

# How long read/delete wait for an unreachable REST API before giving up.
READ_DEADLINE_S = 30.0
# Inputs whose change needs Flink in `update`; any other change (deadlines, retention, the abandon
# opt-in…) only updates the state, so it can be applied while the REST API is unreachable.
FLINK_KEYS = JOB_KEYS + CLUSTER_KEYS + ("rest_url", "desired_state")

T = TypeVar("T")


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


def current_job_id(resource_id: str, outputs: Mapping[str, Any]) -> str:
    """The job recorded as running now. The engine keeps a resource's id for life, but every upgrade
    starts a new Flink job: its id is the `job_id` output, not the resource id."""
    return str(outputs.get("job_id") or resource_id)


def _client(spec: JobSpec, props: Mapping[str, Any]) -> FlinkRestClient:
    """A REST client for the job's cluster, through its authenticating proxy when it has one."""
    return flink_rest_access.client(spec.rest_url, props)


def _outputs(props: Mapping[str, Any], spec: JobSpec, job_id: str, status: JobStatus,
             client: FlinkRestClient, *, reset_baseline: bool = False) -> dict[str, Any]:
    """What `read` reports for a job that is active on Flink, with its health (state, uptime, restarts,
    checkpoints, last failure); `reset_baseline`: `pulumi up` acknowledges the restarts so far."""
    return {**props, "job_id": job_id, "state": status.state, "flink_version": client.flink_version(),
            "start_time": iso(status.start_time), "job_ui_url": spec.ui_link(job_id),
            **job_health_outputs(client, job_id, props, reset_baseline=reset_baseline)}


def _restorable(client: FlinkRestClient, spec: JobSpec, job_id: str, known: str | None) -> str | None:
    return ended_snapshot(client, spec, job_id) or known


def _create_restore(client: FlinkRestClient, spec: JobSpec, props: Mapping[str, Any]) -> str | None:
    """What a create restores from: a replacement (table rebuild, `up --replace`) resumes from the newest
    snapshot of the run its delete just ended; else `initial_savepoint_path`. Either fallback is said
    aloud on a replacement or a job bound to a sink table: an initial savepoint may be weeks old, and a
    rebuild without a snapshot loses the job's state."""
    previous = predecessor(client, spec)
    if previous is not None and previous.snapshot:
        return previous.snapshot
    rebuild = previous is not None or bool(props.get(SINK_KEY))
    if spec.initial_savepoint_path:
        if rebuild:
            _warn(f"job '{spec.job_name}': restored from jobInitialSavepointPath (jobs[].initialSavepointPath) "
                  f"{spec.initial_savepoint_path}; unset it once the job runs")
        return spec.initial_savepoint_path
    if previous is not None and spec.effective_upgrade_mode != "stateless":
        _warn(f"job '{spec.job_name}': no snapshot of its previous run {previous.job_id} on {spec.rest_url}; "
              "it starts without state")
    return None


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
        differs = [key for key in INPUT_KEYS
                   if is_unknown(news.get(key)) or plain(olds.get(key)) != plain(news.get(key))]
        restorable = olds.get("state") == VANISHED  # refresh found the job ended: resubmit it
        # A new identity is a new job. Delete before replace: created first, it would adopt the running job
        # (same derived id) and the old resource's delete would then stop it.
        replaces = [key for key in REPLACE_KEYS if key in differs]
        # The sink table is rebuilt: when the engine replaces the table delete-first, it asks this diff with
        # the identity unknown and, on "replace", deletes the job (stop with savepoint) before the DROP and
        # creates it after, which restores it from that savepoint (pulumi/pulumi step_generator.go at
        # 1b5949891b3c: calculateDependentReplacements, 3268-3411; the re-creation, 1482-1505). A first
        # identity (none recorded yet), or a job that runs nothing (suspended, vanished: its recorded
        # snapshot must survive), only updates the state.
        if SINK_KEY in differs and olds.get(SINK_KEY) and olds.get("state") not in (SUSPENDED, VANISHED):
            replaces.append(SINK_KEY)
        # An unhealthy job recorded by refresh (restarts, stale checkpoints) is drift, which `up` re-baselines.
        return dynamic.DiffResult(changes=bool(differs) or restorable or drifted(olds), replaces=replaces,
                                  delete_before_replace=True)

    # -- create ---------------------------------------------------------------------------------

    @_readable
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        spec = spec_from(props)
        if spec.suspended:  # declared suspended: nothing runs; the id is the one it will first run under
            job_id = spec.job_id(0)
            return dynamic.CreateResult(job_id, {**props, "job_id": job_id, "state": SUSPENDED,
                                                 "last_savepoint": spec.initial_savepoint_path, "savepoints": [],
                                                 "effective_upgrade_mode": spec.effective_upgrade_mode,
                                                 "job_ui_url": spec.ui_link(job_id)})
        with _client(spec, props) as client:
            client.wait_until_ready(spec.rest_deadline_seconds)
            restore_from = _create_restore(client, spec, props)
            outs = deploy(client, spec, restore_from=restore_from)
            outs.update(job_health_outputs(client, outs["job_id"], props, reset_baseline=True, just_started=True))
        return dynamic.CreateResult(outs["job_id"], {**props, **outs, "savepoints": []})

    # -- read -----------------------------------------------------------------------------------

    @_readable
    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        spec = spec_from(props)
        with _client(spec, props) as client:
            client.wait_until_ready(min(spec.rest_deadline_seconds, READ_DEADLINE_S), need_taskmanagers=False)
            job_id, status = current_job(client, spec, current_job_id(id_, props))
            if status is not None and not status.terminal:
                return dynamic.ReadResult(id_, _outputs(props, spec, job_id, status, client))
            if spec.suspended:
                return dynamic.ReadResult(id_, {**props, "state": SUSPENDED})
            snapshot = _restorable(client, spec, job_id, props.get("last_savepoint"))
            if snapshot and spec.effective_upgrade_mode != "stateless":
                # Ended, or forgotten by a JobManager restarted without HA, with a snapshot to go back to:
                # keep the resource, marked VANISHED, so the next `up` resubmits it from there.
                return dynamic.ReadResult(id_, {**props, "state": VANISHED, "last_savepoint": snapshot})
            # Ended without a snapshot to go back to: missing, so `up` submits it afresh.
            return dynamic.ReadResult("", {})

    # -- update ---------------------------------------------------------------------------------

    @_readable
    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        # The default update would wipe the outputs: always return all of them.
        spec = spec_from(news)
        kept = {**{key: olds.get(key) for key in OUTPUT_KEYS}, "effective_upgrade_mode": spec.effective_upgrade_mode}
        # An ended job to bring back, or a suspended one to resume.
        restorable = olds.get("state") == VANISHED or (olds.get("state") == SUSPENDED and not spec.suspended)
        if not changed(olds, news, FLINK_KEYS) and not restorable:
            job_id = current_job_id(id_, olds)
            health = {key: olds.get(key) for key in HEALTH_KEYS}
            if drifted(olds):  # `up` acknowledges the restarts a refresh recorded (never fails for Flink's sake)
                with _client(spec, news) as client:
                    health = job_health_outputs(client, job_id, {**olds, **news}, reset_baseline=True)
            return dynamic.UpdateResult({**news, **kept, **health, "job_id": job_id,
                                         "job_ui_url": spec.ui_link(job_id)})
        previous = spec_from(olds)
        with _client(spec, news) as client:
            client.wait_until_ready(spec.rest_deadline_seconds, need_taskmanagers=not spec.suspended)
            job_id, old = current_job(client, previous, current_job_id(id_, olds))
            running = old is not None and not old.terminal
            if spec.suspended:
                return dynamic.UpdateResult({**news, **kept, **self._suspend(client, spec, olds, job_id, old)})
            if running and not job_changed(olds, news) and not restorable:
                # Same version still running: e.g. the cluster rolled with HA and the job survived it.
                return dynamic.UpdateResult({**news, **kept, **_outputs({**olds, **news}, spec, job_id, old, client,
                                                                        reset_baseline=True)})
            if spec.upgrade_mode != "stateless" and spec.effective_upgrade_mode == "stateless":
                _warn(f"job '{spec.job_name}': no savepoint_dir, so the upgrade is stateless (the job's state "
                      "is dropped); set savepoint_dir to upgrade through a savepoint")
            detail = client.job_or_none(job_id) if running else None
            failure: FlinkJobError | FlinkRestError | None = None
            # Slots first: fail before touching the old job if the new one could not get them.
            with reserve_slots(client, spec, credit=detail.slots_used if detail else 0):
                stopped = take_snapshot(client, spec, job_id, old if running else None,
                                        known=olds.get("last_savepoint"), warn=_warn)
                try:
                    outs = deploy(client, spec, restore_from=stopped.snapshot, reserve=False)
                except (FlinkJobError, FlinkRestError) as error:  # e.g. its jar cannot be uploaded
                    failure = error
            if failure is not None:
                if not job_changed(olds, news) or olds.get("state") == SUSPENDED:
                    raise failure
                raise roll_back(client, previous, stopped.snapshot, failure, spec)
            history = self._retain(client, spec, olds, stopped)
            outs.update(job_health_outputs(client, outs["job_id"], news, reset_baseline=True, just_started=True))
        if stopped.snapshot is None:
            outs["last_savepoint"] = olds.get("last_savepoint")
        return dynamic.UpdateResult({**news, **outs, "savepoints": history})

    def _suspend(self, client: FlinkRestClient, spec: JobSpec, olds: Mapping[str, Any], job_id: str,
                 old: JobStatus | None) -> dict[str, Any]:
        """Stop the job with a snapshot (savepoint, last checkpoint, or none when stateless); keep the resource."""
        if old is None or old.terminal:
            snapshot = _restorable(client, spec, job_id, olds.get("last_savepoint"))
            return {"job_id": job_id, "state": SUSPENDED, "last_savepoint": snapshot}
        stopped = take_snapshot(client, spec, job_id, old, known=olds.get("last_savepoint"), warn=_warn)
        return {"job_id": job_id, "state": SUSPENDED, "last_savepoint": stopped.snapshot or olds.get("last_savepoint"),
                "savepoints": self._retain(client, spec, olds, stopped)}

    @staticmethod
    def _retain(client: FlinkRestClient, spec: JobSpec, olds: Mapping[str, Any], stopped: Stopped) -> list[str]:
        """Keep the newest `savepoints_to_keep` savepoints this program took; dispose of older ones through
        Flink, never the one the running job came from. A failed disposal is a warning."""
        history = [str(p) for p in olds.get("savepoints") or []]
        if stopped.taken and stopped.snapshot:
            history.append(stopped.snapshot)
        keep = history[-spec.savepoints_to_keep:]
        protected = {stopped.snapshot, olds.get("restored_from")}
        for path in history[:-spec.savepoints_to_keep]:
            if path in protected:
                keep.insert(0, path)
                continue
            try:
                dispose_savepoint(client, path)
            except FlinkRestError as error:
                _warn(f"job '{spec.job_name}': could not dispose of old savepoint {path}: {error.detail}")
                keep.insert(0, path)
        return keep

    # -- delete ---------------------------------------------------------------------------------

    @_readable
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        spec = spec_from(props)
        with _client(spec, props) as client:
            try:
                client.wait_until_ready(min(spec.rest_deadline_seconds, READ_DEADLINE_S), need_taskmanagers=False)
            except FlinkUnavailable as error:
                job = current_job_id(id_, props)
                if spec.abandon_on_unreachable:
                    _warn(f"job '{spec.job_name}' ({job}) abandoned: {error.detail} at {spec.rest_url}; it was not "
                          "stopped and may still be running (abandonOnUnreachable)")
                    return
                raise FlinkJobError(f"cannot stop job '{spec.job_name}' ({job}): {error}; to destroy without "
                                    "stopping it, set abandonOnUnreachable true for this job (e.g. "
                                    "`pulumi config set jobAbandonOnUnreachable true`), run `pulumi up`, "
                                    "then `pulumi destroy`") from None
            job_id, status = current_job(client, spec, current_job_id(id_, props))
            if status is None or status.terminal:
                return  # already gone (or suspended): nothing to stop
            if spec.effective_upgrade_mode != "stateless" and spec.savepoint_dir:
                try:
                    client.stop_with_savepoint(job_id, spec.savepoint_dir, spec.savepoint_deadline_seconds)
                except SavepointFailed as error:
                    now = client.job_summary(job_id)
                    if now is None or now.terminal:
                        return  # it ended on its own meanwhile
                    raise FlinkJobError(f"the final savepoint of job '{spec.job_name}' ({job_id}) failed: "
                                        f"{error.detail}; the job keeps running (set upgrade_mode stateless "
                                        "to stop it without a savepoint)") from None
            else:
                client.cancel(job_id)
            client.wait_for_terminal(job_id, spec.savepoint_deadline_seconds)


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
    # "running" or "suspended" (stopped with a snapshot, resource kept; back to running restores from it).
    desired_state: pulumi.Input[str] | None = None
    # Health gate: this long without a restart after every task runs (each create/update costs it once).
    job_stable_seconds: pulumi.Input[float] | None = None
    # Health gate: also wait for one completed checkpoint.
    require_checkpoint: pulumi.Input[bool] | None = None
    # last-state upgrades refuse a newest checkpoint older than this.
    max_checkpoint_age_seconds: pulumi.Input[float] | None = None
    # Savepoints this program took for the job that are kept; older ones are disposed of.
    savepoints_to_keep: pulumi.Input[int] | None = None
    # Let destroy drop the resource when the REST API cannot be reached (with a warning naming the job).
    abandon_on_unreachable: pulumi.Input[bool] | None = None
    # Changes whenever the session cluster's JobManager is replaced (config checksum, Secret, cluster id):
    # an update then checks that the job survived, or resubmits it from its last snapshot.
    cluster_revision: pulumi.Input[str] | None = None
    # The sink table's identity (HologresTable.identity): a rebuilt table stops the job first and restarts
    # it from its savepoint after.
    sink_identity: pulumi.Input[str] | None = None
    # The REST proxy's CA (pinned) and basic-auth user/password (a secret), when the cluster has one.
    rest_ca_pem: pulumi.Input[str] | None = None
    rest_user: pulumi.Input[str] | None = None
    rest_password: pulumi.Input[str] | None = None

    def props(self, *, default_job_name: str) -> dict[str, Any]:
        """The resource's input properties (snake_case keys, as the provider reads them)."""
        props = {key: getattr(self, key) for key in INPUT_KEYS}
        props["job_name"] = self.job_name or default_job_name
        props.update(flink_rest_access.access_inputs(self.rest_ca_pem, self.rest_user, self.rest_password))
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
    restored_from: pulumi.Output[str | None]
    savepoints: pulumi.Output[list[str]]

    def __init__(self, name: str, args: FlinkJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        if args.upgrade_mode not in ("stateless", "last-state") and not args.savepoint_dir:
            pulumi.log.warn(f"FlinkJob {name}: no savepoint directory, so upgrades and destroy are stateless "
                            "(the job's state is dropped); set savepointDir to keep it")
        props = args.props(default_job_name=f"{pulumi.get_project()}/{pulumi.get_stack()}/{name}")
        # Replacements delete first: a replacement created first would adopt the running job (same derived
        # id) and the old resource's delete would then stop it (the engine ignores the provider's
        # delete_before_replace on `up --replace`, so the resource option says it too).
        opts = pulumi.ResourceOptions.merge(pulumi.ResourceOptions(delete_before_replace=True), opts)
        # Arguments and job options may carry credentials: given as Outputs (e.g. secret config), their
        # copies in the resource's outputs are stored as secrets too, whatever the provider returns.
        secret_outputs = [key for key in ("args", "flink_configuration") if isinstance(props[key], pulumi.Output)]
        if secret_outputs:
            opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=secret_outputs))
        super().__init__(FlinkJobProvider(), name, {**props, **{key: None for key in OUTPUT_KEYS + HEALTH_KEYS}}, opts)
