"""The inputs of a FlinkJob: names, defaults, validation and the derived job identity. No Pulumi, no I/O.

Checkpointing option names were read from the released `flink-dist` jars of 1.18.1, 1.20.3 and 2.2.0
(`org/apache/flink/configuration/CheckpointingOptions.class`,
`org/apache/flink/streaming/api/environment/ExecutionCheckpointingOptions.class`): the retention key
`execution.checkpointing.externalized-checkpoint-retention` and the interval key
`execution.checkpointing.interval` are the same in all three; only the directory moved
(`state.checkpoints.dir` → `execution.checkpointing.dir` in 1.20/2.x, see flink_config.state_options).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from components.flink_rest import one_line
from components.flink_rest_jars import SHA256
from components.unknowns import is_unknown

UpgradeMode = Literal["savepoint", "last-state", "stateless"]
UPGRADE_MODES: tuple[str, ...] = ("savepoint", "last-state", "stateless")
DESIRED_STATES: tuple[str, ...] = ("running", "suspended")

RETENTION_KEY = "execution.checkpointing.externalized-checkpoint-retention"
RETAIN = "RETAIN_ON_CANCELLATION"
INTERVAL_KEY = "execution.checkpointing.interval"

DEFAULT_REST_DEADLINE_S = 300.0
DEFAULT_START_DEADLINE_S = 300.0
DEFAULT_SAVEPOINT_DEADLINE_S = 600.0
# "Started" = all tasks RUNNING, then this long without a restart: each create/update costs it once.
DEFAULT_STABLE_S = 5.0
DEFAULT_MAX_CHECKPOINT_AGE_S = 600.0
DEFAULT_SAVEPOINTS_TO_KEEP = 5
# Enough for any realistic number of update/create cycles of one job on one JobManager.
MAX_JOB_ID_ATTEMPTS = 64

# Inputs whose change means a new job version (resubmission); others only update outputs.
JOB_KEYS = ("jar_sha256", "entry_class", "args", "parallelism", "flink_configuration")
# Inputs the cluster's own revision invalidates: a change means "the JobManager may have been replaced".
CLUSTER_KEYS = ("cluster_revision",)
# The identity of the table the job writes into ("schema.table@generation"): a rebuilt table is a replacement
# of the job, so the engine stops it before the DROP and starts it after (see FlinkJobProvider.diff).
SINK_KEY = "sink_identity"
INPUT_KEYS = JOB_KEYS + CLUSTER_KEYS + (SINK_KEY,) + (
    "rest_url", "jar_path", "upgrade_mode", "savepoint_dir", "allow_non_restored_state", "job_name",
    "initial_savepoint_path", "ui_url", "rest_deadline_seconds", "start_deadline_seconds",
    "savepoint_deadline_seconds", "desired_state", "job_stable_seconds", "require_checkpoint",
    "max_checkpoint_age_seconds", "savepoints_to_keep", "abandon_on_unreachable",
    "rest_ca_pem", "rest_user", "rest_password",  # the REST proxy's pinned CA and basic auth (issue 12)
)
# Changing the job's identity is a replacement, deleted before it is re-created (see diff).
REPLACE_KEYS = ("job_name",)
OUTPUT_KEYS = ("job_id", "jar_id", "state", "flink_version", "start_time", "job_ui_url", "last_savepoint",
               "effective_upgrade_mode", "restored_from", "savepoints")

# A package-qualified Java class name.
JAVA_CLASS = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")
# An http(s) URL of the Flink REST API (the settings check flinkRestUrl with it too).
REST_URL = re.compile(r"^https?://[^\s/]+")


class FlinkJobError(Exception):
    """A deployment step failed; the message is one readable line (the provider host prints a
    traceback, whose last line is this message)."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message, 1500))


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
    desired_state: str = "running"
    job_stable_seconds: float = DEFAULT_STABLE_S
    require_checkpoint: bool = False
    max_checkpoint_age_seconds: float = DEFAULT_MAX_CHECKPOINT_AGE_S
    savepoints_to_keep: int = DEFAULT_SAVEPOINTS_TO_KEEP
    abandon_on_unreachable: bool = False
    cluster_revision: str | None = None

    @property
    def effective_upgrade_mode(self) -> UpgradeMode:
        """`savepoint` needs somewhere to put savepoints; without one the job is upgraded stateless.
        `last-state` is validated (retention + interval) in `validate`."""
        if self.upgrade_mode == "last-state":
            return "last-state"
        if self.upgrade_mode == "stateless" or not self.savepoint_dir:
            return "stateless"
        return "savepoint"

    @property
    def suspended(self) -> bool:
        return self.desired_state == "suspended"

    @property
    def fingerprint(self) -> str:
        """What makes a job version: its content, not where it is sent or how it is upgraded."""
        material = json.dumps({key: plain(getattr(self, key)) for key in JOB_KEYS}, sort_keys=True)
        return hashlib.sha256(material.encode()).hexdigest()

    def job_id(self, attempt: int) -> str:
        """A Flink JobID (32 hex) derived from the resource and this job version: a create retried after
        a crash computes the same ids and finds the job it started. `attempt` skips ids Flink still
        remembers as finished (it refuses to reuse them)."""
        material = f"flink-hologres\0{self.job_name}\0{self.fingerprint}\0{attempt}"
        return hashlib.sha256(material.encode()).hexdigest()[:32]

    def ui_link(self, job_id: str) -> str:
        return f"{(self.ui_url or self.rest_url).rstrip('/')}/#/job/running/{job_id}/overview"


def plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole_at_least(minimum: int) -> Callable[[Any], bool]:
    return lambda v: _number(v) and int(v) == v and v >= minimum


# One rule per job input, (accepts, problem with {value}): the provider's check applies them to its inputs,
# the settings to the jobs they read (naming the config key, settings_jobs).
RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "rest_url": (lambda v: isinstance(v, str) and bool(REST_URL.match(v)),
                 "'{value}' is not an http(s):// URL of the Flink REST API"),
    "jar_path": (lambda v: isinstance(v, str), "must be a path"),
    "jar_sha256": (lambda v: isinstance(v, str) and bool(SHA256.match(v)),
                   "'{value}' is not a lowercase sha256 hex digest"),
    "job_name": (lambda v: isinstance(v, str) and bool(v.strip()), "must not be blank"),
    "entry_class": (lambda v: isinstance(v, str) and bool(JAVA_CLASS.match(v)),
                    "'{value}' is not a Java class name"),
    "args": (lambda v: isinstance(v, (list, tuple)) and all(isinstance(a, str) for a in v),
             "must be a list of strings"),
    "parallelism": (_whole_at_least(1), "'{value}' is not a whole number ≥ 1"),
    "upgrade_mode": (lambda v: v in UPGRADE_MODES, "'{value}' is not savepoint, last-state or stateless"),
    "desired_state": (lambda v: v in DESIRED_STATES, "'{value}' is not running or suspended"),
    **dict.fromkeys(("allow_non_restored_state", "require_checkpoint", "abandon_on_unreachable"),
                    (lambda v: isinstance(v, bool), "'{value}' is not true or false")),
    "flink_configuration": (lambda v: isinstance(v, Mapping), "must be a map of Flink options"),
    **dict.fromkeys(("rest_deadline_seconds", "start_deadline_seconds", "savepoint_deadline_seconds",
                     "max_checkpoint_age_seconds"),
                    (lambda v: _number(v) and v > 0, "'{value}' is not a positive number")),
    "job_stable_seconds": (lambda v: _number(v) and v >= 0, "'{value}' is not a number ≥ 0"),
    "savepoints_to_keep": (_whole_at_least(1), "'{value}' is not a whole number ≥ 1"),
}
REQUIRED = ("rest_url", "jar_path", "jar_sha256", "job_name")


def problem(key: str, value: Any) -> str | None:
    """Why `value` is not a valid input `key` (a known, set value), or None."""
    accepts, reason = RULES[key]
    return None if accepts(value) else reason.format(value=value)


def validate(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(property, reason) for every known input that is wrong; unknown values are accepted."""
    failures: list[tuple[str, str]] = []
    for key in RULES:
        value = props.get(key)
        if is_unknown(value):
            continue
        if value is None or value == "":
            if key in REQUIRED:
                failures.append((key, "is required"))
        elif reason := problem(key, value):
            failures.append((key, reason))
    failures.extend(("flink_configuration", reason) for reason in
                    last_state_problems(props.get("upgrade_mode"), props.get("flink_configuration")))
    return failures


def last_state_problems(upgrade_mode: Any, config: Any) -> list[str]:
    """last-state restores from the newest retained checkpoint: the job must checkpoint and keep them."""
    if upgrade_mode != "last-state" or is_unknown(config) or not isinstance(config, Mapping):
        return []
    if any(is_unknown(v) for v in config.values()):
        return []
    problems = []
    if str(config.get(RETENTION_KEY, "")).upper() != RETAIN:
        problems.append(f"upgrade mode last-state needs {RETENTION_KEY}: {RETAIN} (checkpoints kept when the job is "
                        "cancelled)")
    if not config.get(INTERVAL_KEY):
        problems.append(f"upgrade mode last-state needs {INTERVAL_KEY} (e.g. 30 s)")
    return problems


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
        desired_state=props.get("desired_state") or "running",
        job_stable_seconds=number("job_stable_seconds", DEFAULT_STABLE_S),
        require_checkpoint=bool(props.get("require_checkpoint") or False),
        max_checkpoint_age_seconds=number("max_checkpoint_age_seconds", DEFAULT_MAX_CHECKPOINT_AGE_S),
        savepoints_to_keep=int(number("savepoints_to_keep", DEFAULT_SAVEPOINTS_TO_KEEP)),
        abandon_on_unreachable=bool(props.get("abandon_on_unreachable") or False),
        cluster_revision=str(props["cluster_revision"]) if props.get("cluster_revision") else None,
    )


def changed(olds: Mapping[str, Any], news: Mapping[str, Any], keys: tuple[str, ...]) -> list[str]:
    return [key for key in keys if plain(olds.get(key)) != plain(news.get(key))]


def job_changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
    return bool(changed(olds, news, JOB_KEYS))
