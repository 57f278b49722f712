"""The job settings: the single-job keys or a `jobs` list, each job checked, and their slots.

One job comes from `jobJar`, `jobArgs`, … or each entry of `jobs` (fixed fields; a typo names the
field it likely meant); both at once is an error. A preview (CI builds nothing) accepts a jar that is
not there yet, with one warning. Values set with --secret are flagged, so the program passes them on
as Pulumi secrets.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi

from components import flink_config, flink_job_spec
from components.config_commands import JOB_FIELDS, config_rm, config_set, default_text, path
from components.config_reader import ConfigError, _Reader, _unknown
from components.flink_job import FlinkJobArgs
from components.flink_rest import file_sha256
from components.flink_session_cluster import FlinkSessionCluster
from components.unknowns import unknown_in_preview

DEFAULT_ENTRY_CLASS = "io.hologres.flink.example.HologresSinkExample"
UpgradeMode = flink_job_spec.UpgradeMode
UPGRADE_MODES = flink_job_spec.UPGRADE_MODES

_JOB_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$")


@dataclass(frozen=True)
class JobSettings:
    name: str
    jar: str | None
    entry_class: str
    args: list[str]
    parallelism: int
    upgrade_mode: UpgradeMode | None
    savepoint_dir: str | None
    allow_non_restored_state: bool = False
    flink_config: Mapping[str, str] = field(default_factory=dict)
    # Lifecycle: suspend, health gate, last-state checkpoint age, savepoint retention, abandon opt-in.
    state: Literal["running", "suspended"] = "running"
    stable_seconds: int = 5
    require_checkpoint: bool = False
    max_checkpoint_age_seconds: int = 600
    savepoints_to_keep: int = 5
    abandon_on_unreachable: bool = False
    initial_savepoint_path: str | None = None
    # A preview without the jar (CI builds nothing): the job is previewed with an unknown jar hash.
    jar_missing: bool = False
    # Set with --secret: the program passes them to the FlinkJob as secrets.
    secret_args: bool = False
    secret_flink_config: bool = False


@dataclass(frozen=True)
class JobDeadlines:
    rest_seconds: int
    start_seconds: int
    savepoint_seconds: int


# The single-job keys, by the field of a `jobs` entry they stand for.
_SINGLE_JOB_KEYS = {"jar": "jobJar", "entryClass": "jobEntryClass", "args": "jobArgs",
                    "parallelism": "jobParallelism", "upgradeMode": "jobUpgradeMode",
                    "savepointDir": "savepointDir", "allowNonRestoredState": "jobAllowNonRestoredState",
                    "flinkConfig": "jobFlinkConfig", "state": "jobState", "stableSeconds": "jobStableSeconds",
                    "requireCheckpoint": "jobRequireCheckpoint", "checkpointInterval": "jobCheckpointInterval",
                    "maxCheckpointAgeSeconds": "jobMaxCheckpointAgeSeconds",
                    "savepointsToKeep": "jobSavepointsToKeep", "abandonOnUnreachable": "jobAbandonOnUnreachable",
                    "initialSavepointPath": "jobInitialSavepointPath"}
# The checkpoint directory option of each Flink version (flink_config.state_options).
_CHECKPOINT_DIRS = ("state.checkpoints.dir", "execution.checkpointing.dir")


def _checked(key_of: Callable[[str], str], field_: str, value: Any, fix: str) -> Any:
    """`value` for the job field `field_`, by the FlinkJob's own rule for it (flink_job_spec.RULES)."""
    if problem := flink_job_spec.problem(_SPEC_KEYS[field_], value):
        raise ConfigError(key_of(field_), problem, fix)
    return value


def _whole(raw: Mapping[str, Any], key_of: Callable[[str], str], field_: str, default: int) -> int:
    value = raw.get(field_)
    value = default if value is None or value == "" else value
    fix = config_set(key_of(field_), str(default))
    if not isinstance(value, int) or isinstance(value, bool):  # config numbers are whole (Pulumi.yaml)
        raise ConfigError(key_of(field_), f"'{value}' is not a whole number", fix)
    return _checked(key_of, field_, value, fix)


def _flag(raw: Mapping[str, Any], key_of: Callable[[str], str], field_: str) -> bool:
    return _checked(key_of, field_, raw.get(field_, False), config_set(key_of(field_), "true"))


def _lifecycle(raw: Mapping[str, Any], key_of: Callable[[str], str], mode: str | None,
               flink_options: dict[str, str], location_known: bool) -> dict[str, Any]:
    """Suspend, health gate, retention, abandon opt-in, and the checkpointing last-state needs."""
    state = _checked(key_of, "state", raw.get("state") or "running", config_set(key_of("state"), "suspended"))
    if mode == "last-state":
        if not location_known and not any(flink_options.get(k) for k in _CHECKPOINT_DIRS):
            raise ConfigError(key_of("upgradeMode"), "last-state restores from retained checkpoints, and no "
                              "checkpoint location is set",
                              config_set("stateStorage", note="asks for a location, e.g. oss://<bucket>/flink"))
        interval = str(raw.get("checkpointInterval") or "30 s")
        # A unit is required: Flink reads a bare number as milliseconds (30 would checkpoint every 30 ms).
        if not re.match(r"^\d+\s*(ms|s|sec|m|min|h)$", interval):
            raise ConfigError(key_of("checkpointInterval"), f"'{interval}' is not a duration such as 30 s",
                              config_set(key_of("checkpointInterval"), "30 s"))
        # What last-state needs, unless the job's flinkConfig says otherwise (the FlinkJob's rule judges it).
        flink_options.setdefault(flink_job_spec.INTERVAL_KEY, interval)
        flink_options.setdefault(flink_job_spec.RETENTION_KEY, flink_job_spec.RETAIN)
        problems = flink_job_spec.last_state_problems(mode, flink_options)  # only the retention can be wrong
        if problems:
            raise ConfigError(key_of("flinkConfig"), problems[0],
                              config_rm(path(key_of("flinkConfig"), flink_job_spec.RETENTION_KEY)))
    return {"state": state, "stable_seconds": _whole(raw, key_of, "stableSeconds", 5),
            "require_checkpoint": _flag(raw, key_of, "requireCheckpoint"),
            "max_checkpoint_age_seconds": _whole(raw, key_of, "maxCheckpointAgeSeconds", 600),
            "savepoints_to_keep": _whole(raw, key_of, "savepointsToKeep", 5),
            "abandon_on_unreachable": _flag(raw, key_of, "abandonOnUnreachable"),
            "initial_savepoint_path": str(raw["initialSavepointPath"]) if raw.get("initialSavepointPath") else None}


# A job field (config) → the FlinkJob input its rule is for.
_SPEC_KEYS = {"entryClass": "entry_class", "args": "args", "parallelism": "parallelism",
              "upgradeMode": "upgrade_mode", "state": "desired_state",
              "allowNonRestoredState": "allow_non_restored_state",
              "requireCheckpoint": "require_checkpoint", "abandonOnUnreachable": "abandon_on_unreachable",
              "flinkConfig": "flink_configuration", "stableSeconds": "job_stable_seconds",
              "maxCheckpointAgeSeconds": "max_checkpoint_age_seconds", "savepointsToKeep": "savepoints_to_keep"}


def _job(raw: Mapping[str, Any], name: str, key_of: Callable[[str], str], default_parallelism: int,
         secret: Mapping[str, bool], warnings: list[str], location_known: bool = True) -> JobSettings:
    """One job, from a `jobs` entry or from the single-job keys; `key_of` names a field's config key."""
    jar = raw.get("jar")
    jar_missing = bool(jar) and not os.path.isfile(str(jar))
    if jar_missing:
        problem = f"'{jar}' is not a file (paths are relative to the project directory)"
        fix = config_set(key_of("jar"), note="asks for the path of the built jar")
        if not pulumi.runtime.is_dry_run():
            raise ConfigError(key_of("jar"), problem, fix)
        # A preview (e.g. in CI, where nothing is built) still shows everything else.
        warnings.append(f"config '{key_of('jar')}': {problem}; previewing job '{name}' with an unknown jar "
                        "hash (a possible update); `pulumi up` needs the jar")
    entry_class = _checked(key_of, "entryClass", str(raw.get("entryClass") or DEFAULT_ENTRY_CLASS),
                           config_set(key_of("entryClass"), note="asks for the class, e.g. com.example.Main"))
    args = raw.get("args") or []
    if isinstance(args, list) and all(isinstance(a, (str, int, float)) for a in args):
        args = [str(a) for a in args]  # a number typed into the config is still an argument
    _checked(key_of, "args", args, f"{config_rm(key_of('args'))} && {config_set(path(key_of('args'), 0), '--rows')}")
    parallelism = raw.get("parallelism") or default_parallelism
    if isinstance(parallelism, bool) or not isinstance(parallelism, int):
        parallelism = str(parallelism)  # config numbers are whole: 2.0 is not one
    _checked(key_of, "parallelism", parallelism, config_set(key_of("parallelism"), "2"))
    mode = raw.get("upgradeMode") or None
    if mode is not None:
        _checked(key_of, "upgradeMode", mode, config_set(key_of("upgradeMode"), "savepoint"))
    savepoint_dir = raw.get("savepointDir") or None
    if savepoint_dir and "://" not in str(savepoint_dir) and not str(savepoint_dir).startswith("/"):
        raise ConfigError(key_of("savepointDir"), f"'{savepoint_dir}' is not a URI every Flink pod can reach",
                          config_set(key_of("savepointDir"), note="e.g. oss://<bucket>/flink/savepoints"))
    allow = _checked(key_of, "allowNonRestoredState", raw.get("allowNonRestoredState", False),
                     config_set(key_of("allowNonRestoredState"), "false"))
    flink_options = _checked(key_of, "flinkConfig", raw.get("flinkConfig") or {},
                             f"{config_rm(key_of('flinkConfig'))} && "
                             f"{config_set(path(key_of('flinkConfig'), 'pipeline.name'), 'orders')}")
    options = {str(k): str(v) for k, v in flink_options.items()}
    lifecycle = _lifecycle(raw, key_of, mode, options, location_known)
    return JobSettings(name=name, jar=str(jar) if jar else None, entry_class=entry_class,
                       args=args, parallelism=parallelism, upgrade_mode=mode,
                       savepoint_dir=savepoint_dir, allow_non_restored_state=allow,
                       flink_config=options, **lifecycle,
                       jar_missing=jar_missing, secret_args=secret.get("args", False),
                       secret_flink_config=secret.get("flinkConfig", False))


def _set_single_job_keys(read: _Reader) -> list[str]:
    """Single-job keys whose value is not their declared default (the CLI hands the program defaults too)."""
    found = []
    for key in _SINGLE_JOB_KEYS.values():
        raw = read.config.get(key)
        if raw is None or raw.strip() == "":
            continue
        default = default_text(key)
        try:
            same = default is not None and json.loads(raw) == json.loads(default)
        except json.JSONDecodeError:
            same = raw.strip() == default
        if not same:
            found.append(key)
    return found


def _jobs(read: _Reader, default_parallelism: int, warnings: list[str]) -> list[JobSettings]:
    # target ack creates a bucket when stateStorage is empty; elsewhere stateStorage is the location.
    location_known = bool(read.text("stateStorage")) or (read.text("target") or "ack") == "ack"
    listed = read.structured("jobs", list, [], "[0]' orders")
    if listed:
        single = _set_single_job_keys(read)
        if single:
            raise ConfigError("jobs", f"is set together with the single-job keys {', '.join(single)}, which it "
                              "replaces; move them into the jobs entries",
                              " && ".join(config_rm(key) for key in single))
        # `pulumi config set --secret --path 'jobs[0].args[0]' …` makes the whole `jobs` value secret: the
        # program cannot tell which field was, so every job's args and flinkConfig stay secret.
        secret = dict.fromkeys(("args", "flinkConfig"), read.is_secret("jobs"))
        jobs = []
        for index, raw in enumerate(listed):
            if not isinstance(raw, dict):
                raise ConfigError(f"jobs[{index}]", "must be a map of job fields (name, jar, entryClass, …)",
                                  config_rm(path("jobs", index)) + " && "
                                  + config_set(path("jobs", index, "name"), "orders"))
            for field_name in raw:
                if field_name not in JOB_FIELDS:
                    _unknown(path("jobs", index, str(field_name)), str(field_name), raw[field_name], JOB_FIELDS,
                             lambda known, i=index: path("jobs", i, known), secret=read.is_secret("jobs"))
            name = str(raw.get("name", ""))
            if not _JOB_NAME.match(name):
                raise ConfigError(f"jobs[{index}].name", f"'{name}' is not a short lowercase name",
                                  config_set(path("jobs", index, "name"), "orders"))
            jobs.append(_job(raw, name, lambda field, i=index: path("jobs", i, field), default_parallelism,
                             secret, warnings, location_known))
        names = [job.name for job in jobs]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            again = len(names) - 1 - names[::-1].index(duplicate)
            raise ConfigError("jobs", f"the name '{duplicate}' is used twice",
                              config_set(path("jobs", again, "name"), note="asks for a name no other job has"))
        # Every entry becomes a FlinkJob: one without a jar would be left out without a word.
        unbuilt = next((index for index, job in enumerate(jobs) if not job.jar), None)
        if unbuilt is not None:
            raise ConfigError(path("jobs", unbuilt, "jar"), f"is required: job '{jobs[unbuilt].name}' needs the "
                              "path of its built jar", config_set(path("jobs", unbuilt, "jar"),
                                                                  note="asks for the path of the built jar"))
        return jobs
    single: dict[str, Any] = {
        "jar": read.text("jobJar"),
        "entryClass": read.text("jobEntryClass", DEFAULT_ENTRY_CLASS),
        "args": read.string_list("jobArgs", "--rows"),
        # 0 (the Pulumi.yaml default) means "the cluster's defaultParallelism".
        "parallelism": read.integer("jobParallelism", 0, minimum=0),
        "upgradeMode": read.choice("jobUpgradeMode", UPGRADE_MODES, None),
        "savepointDir": read.text("savepointDir"),
        "allowNonRestoredState": read.boolean("jobAllowNonRestoredState", False),
        "flinkConfig": read.structured("jobFlinkConfig", dict, {}, '["pipeline.name"] orders'),
        "state": read.choice("jobState", flink_job_spec.DESIRED_STATES, "running"),
        "stableSeconds": read.integer("jobStableSeconds", 5, minimum=0),
        "requireCheckpoint": read.boolean("jobRequireCheckpoint", False),
        "checkpointInterval": read.text("jobCheckpointInterval", "30 s"),
        "maxCheckpointAgeSeconds": read.integer("jobMaxCheckpointAgeSeconds", 600),
        "savepointsToKeep": read.integer("jobSavepointsToKeep", 5),
        "abandonOnUnreachable": read.boolean("jobAbandonOnUnreachable", False),
        "initialSavepointPath": read.text("jobInitialSavepointPath"),
    }
    secret = {"args": read.is_secret("jobArgs"), "flinkConfig": read.is_secret("jobFlinkConfig")}
    return [_job(single, "main", _SINGLE_JOB_KEYS.__getitem__, default_parallelism, secret, warnings,
                 location_known)]


def _check_slots(jobs: list[JobSettings], size: flink_config.ClusterSize, single: bool) -> None:
    """Each job, and all jobs together, must fit the session cluster's slots, or they wait forever."""
    slots = size.task_managers * size.task_slots
    have = f"the cluster has {slots} (taskManagers {size.task_managers} × taskSlots {size.task_slots})"
    submitted = [job for job in jobs if job.jar]
    for job in submitted:
        if job.parallelism > slots:
            key = "jobParallelism" if single else path("jobs", jobs.index(job), "parallelism")
            raise ConfigError(key, f"job '{job.name}' needs {job.parallelism} slots, {have}",
                              config_set(key, str(slots), note="or raise taskManagers/taskSlots"))
    needed = sum(job.parallelism for job in submitted)
    if needed > slots:
        raise ConfigError("jobs", f"the jobs need {needed} slots together, {have}",
                          config_set("taskManagers", str(-(-needed // size.task_slots)),
                                     note="or lower the jobs' parallelism"))


def _job_deadlines(read: _Reader) -> JobDeadlines:
    return JobDeadlines(rest_seconds=read.integer("jobRestDeadlineSeconds", 300),
                        start_seconds=read.integer("jobStartDeadlineSeconds", 300),
                        savepoint_seconds=read.integer("savepointDeadlineSeconds", 600))


# --- the jobs' component arguments --------------------------------------------------------------------


def _secret_if(secret: bool, value: Any) -> Any:
    """Config set with --secret reaches the resource as a Pulumi secret, so its state stores it encrypted."""
    return pulumi.Output.secret(value) if secret else value


def job_args(job: JobSettings, *, cluster: FlinkSessionCluster, rest_url: pulumi.Input[str],
             sink_identity: pulumi.Input[str] | None, deadlines: JobDeadlines, project: str,
             stack: str) -> FlinkJobArgs:
    """A configured job as a FlinkJob on `cluster`, reached through `rest_url` (and its proxy, if any),
    writing into the table `sink_identity` names (HologresTable.identity)."""
    auth = cluster.rest_auth
    return FlinkJobArgs(
        rest_url=rest_url,
        jar_path=job.jar,  # type: ignore[arg-type]  # only jobs with a jar are declared
        jar_sha256=unknown_in_preview() if job.jar_missing else file_sha256(job.jar),  # type: ignore[arg-type]
        entry_class=job.entry_class,
        args=_secret_if(job.secret_args, job.args),
        parallelism=job.parallelism,
        upgrade_mode=job.upgrade_mode,
        savepoint_dir=job.savepoint_dir or cluster.savepoint_dir,
        allow_non_restored_state=job.allow_non_restored_state,
        flink_configuration=_secret_if(job.secret_flink_config, job.flink_config),
        job_name=f"{project}/{stack}/{job.name}",
        rest_deadline_seconds=deadlines.rest_seconds,
        start_deadline_seconds=deadlines.start_seconds,
        savepoint_deadline_seconds=deadlines.savepoint_seconds,
        desired_state=job.state,
        job_stable_seconds=job.stable_seconds,
        require_checkpoint=job.require_checkpoint,
        max_checkpoint_age_seconds=job.max_checkpoint_age_seconds,
        savepoints_to_keep=job.savepoints_to_keep,
        abandon_on_unreachable=job.abandon_on_unreachable,
        initial_savepoint_path=job.initial_savepoint_path,
        # What replaces the JobManager (its config; the cluster's namespace): a change makes the job check it
        # survived, or resubmit it from its last snapshot, in the same `up`.
        cluster_revision=cluster.revision,
        # The table it writes into, as a property dependency: a rebuild the user allowed stops the job before
        # the DROP and restarts it from its savepoint after.
        sink_identity=sink_identity,
        rest_ca_pem=auth.ca_pem if auth else None,
        rest_user=auth.user if auth else None,
        rest_password=auth.password if auth else None,
    )
