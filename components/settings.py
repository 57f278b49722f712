"""Typed, validated settings from the stack configuration.

Everything the program needs is read and checked here, before any resource is declared. A bad
value stops the program with one line that names the config key and the fix (`ConfigError` is a
`pulumi.RunError`, which the CLI prints without a stack trace); every fix is a command that runs as
printed (`components.config_commands`). Keys this project does not declare are typos, and stop it too.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import pulumi

from components import flink_config, hologres_ddl
from components.config_commands import (
    JOB_FIELDS,
    closest,
    config_rm,
    config_set,
    default_text,
    known_keys,
    path,
)

PROJECT = "flink-hologres"
# Pinned to a patch release: reproducible pods, and the file-system plugin jar names carry the patch.
DEFAULT_IMAGE = "flink:1.20.3-java17"
DEFAULT_ENTRY_CLASS = "io.hologres.flink.example.HologresSinkExample"
DEFAULT_TABLE = "public.order_details"

Target = Literal["ack", "kubeconfig"]
ClusterProfile = Literal["Serverless", "Acs"]
UiAccess = Literal["intranet", "internet"]
UpgradeMode = Literal["savepoint", "stateless"]
HighAvailability = Literal["none", "kubernetes"]

T = TypeVar("T")


class ConfigError(pulumi.RunError):
    """A user mistake in the stack configuration: printed as one line, without a traceback.

    `fix` is a shell command that runs as printed (build it with config_set / config_rm)."""

    def __init__(self, key: str, problem: str, fix: str) -> None:
        super().__init__(f"config '{key}': {problem}. Fix: {fix}")
        self.key = key
        self.fix = fix


# --- the pieces ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlinkSettings:
    image: str
    version: flink_config.FlinkVersion
    java_version: int
    size: flink_config.ClusterSize
    extra_config: Mapping[str, Any]
    rest_service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"]


@dataclass(frozen=True)
class HologresSettings:
    host: str
    port: int
    # Where the deploying machine reaches Hologres to manage the table (the VPC endpoint the job
    # uses is often unreachable from a laptop or CI); defaults to host/port.
    admin_host: str
    admin_port: int
    database: str
    table: str
    drop_table_on_destroy: bool
    # Secret Outputs: never plain strings anywhere in the program.
    user: pulumi.Output[str]
    password: pulumi.Output[str]


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


@dataclass(frozen=True)
class AlicloudSettings:
    cluster_profile: ClusterProfile
    vpc_cidr: str
    vswitch_cidr: str
    zone_id: str | None
    vpc_id: str | None
    vswitch_ids: list[str]
    deletion_protection: bool
    kubernetes_version: str | None
    ui_access: UiAccess
    ui_allowed_cidrs: list[str]
    image_registry_mirror: str | None
    eci_use_specs: list[str]


@dataclass(frozen=True)
class Settings:
    project: str
    stack: str
    target: Target
    kubeconfig: pulumi.Output[str] | None
    namespace: str
    flink: FlinkSettings
    hologres: HologresSettings
    jobs: list[JobSettings]
    job_deadlines: JobDeadlines
    flink_rest_url: str | None
    alicloud: AlicloudSettings | None
    high_availability: HighAvailability
    # A URI, "oss" (the program creates a bucket; target ack), or None (no durable state).
    state_storage: str | None
    drop_state_on_destroy: bool
    warnings: list[str] = field(default_factory=list)


# --- reading helpers -----------------------------------------------------------------------------


class _Reader:
    """pulumi.Config with our error style: every failure names its key and the fix."""

    def __init__(self, config: pulumi.Config) -> None:
        self.config = config

    def is_secret(self, key: str) -> bool:
        return pulumi.runtime.is_config_secret(f"{self.config.name}:{key}")

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self.config.get(key)
        return default if value is None or value.strip() == "" else value.strip()

    def required_text(self, key: str, example: str) -> str:
        value = self.text(key)
        if value is None:
            # A placeholder is never typed into the command: the CLI asks for the value.
            raise ConfigError(key, "is required", config_set(key, note=f"asks for the value, e.g. {example}"))
        return value

    def integer(self, key: str, default: int, minimum: int = 1) -> int:
        raw = self.config.get(key)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(key, f"'{raw}' is not a whole number",
                              config_set(key, str(default))) from None
        if value < minimum:
            raise ConfigError(key, f"must be at least {minimum}, got {value}",
                              config_set(key, str(max(default, minimum))))
        return value

    def boolean(self, key: str, default: bool) -> bool:
        raw = self.config.get(key)
        if raw is None or raw.strip() == "":
            return default
        lowered = raw.strip().lower()
        if lowered not in ("true", "false"):
            raise ConfigError(key, f"'{raw}' is not true or false", config_set(key, "false"))
        return lowered == "true"

    def choice(self, key: str, allowed: tuple[str, ...], default: str | None) -> str | None:
        value = self.text(key, default)
        if value is not None and value not in allowed:
            raise ConfigError(key, f"'{value}' is not one of {', '.join(allowed)}",
                              config_set(key, default or allowed[0]))
        return value

    def structured(self, key: str, kind: type[T], default: T, example: str) -> T:
        """A list or map; `example` is a value for its first entry (a list) or an entry as
        `["name"] value` (a map). The older list form "[0]' value" is accepted too."""
        raw = self.config.get(key)
        if raw is None or raw.strip() == "":
            return default
        fix = self._example_fix(key, kind, example)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError(key, "is not valid structured config", f"{config_rm(key)} && {fix}") from None
        if not isinstance(value, kind):
            raise ConfigError(key, f"must be a {'list' if kind is list else 'map'}", f"{config_rm(key)} && {fix}")
        return value

    @staticmethod
    def _example_fix(key: str, kind: type, example: str) -> str:
        if kind is list:
            return config_set(path(key, 0), example.removeprefix("[0]' "))
        option, _, value = example.partition(" ")
        return config_set(path(key, json.loads(option.strip("[]"))), value)

    def string_list(self, key: str, example: str) -> list[str]:
        values = self.structured(key, list, [], example)
        if not all(isinstance(v, (str, int, float)) for v in values):
            raise ConfigError(key, "must be a list of strings",
                              f"{config_rm(key)} && {self._example_fix(key, list, example)}")
        return [str(v) for v in values]

    def secret(self, key: str, what: str) -> pulumi.Output[str]:
        # Without a value the CLI asks for it, without echo (and it stays out of the shell history).
        fix = config_set(key, secret=True, note=f"asks for the {what}")
        if not self.text(key):
            raise ConfigError(key, "is required and missing", fix)
        # A value set without --secret sits in plaintext in Pulumi.<stack>.yaml: refuse it.
        if not self.is_secret(key):
            raise ConfigError(key, "is stored in plaintext in the stack file", fix)
        return self.config.require_secret(key)


def _validated(key: str, fix: str, parse: Callable[[], T]) -> T:
    """Run a pure parser; its ValueError becomes a ConfigError for `key`."""
    try:
        return parse()
    except ValueError as error:
        raise ConfigError(key, str(error), fix) from None


# Kubernetes DNS-1123 label (namespace and Service names).
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_JOB_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$")
_JAVA_CLASS = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")
_CPU = re.compile(r"^(\d+(\.\d{1,3})?|\d+m)$")
_ENDPOINT = re.compile(r"^(?P<host>[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(?P<port>\d{1,5}))?$")
_ALLOW_ANYONE = {"0.0.0.0/0", "::/0"}


# --- the pieces, read and checked ----------------------------------------------------------------


def _flink(read: _Reader, target: Target) -> tuple[FlinkSettings, list[str]]:
    warnings: list[str] = []
    image = read.text("flinkImage", DEFAULT_IMAGE) or DEFAULT_IMAGE
    _validated("flinkImage", config_set("flinkImage", DEFAULT_IMAGE),
               lambda: flink_config.parse_image(image))
    version = _validated("flinkVersion", config_set("flinkVersion", "1.20"),
                         lambda: flink_config.resolve_version(image, read.text("flinkVersion")))
    if flink_config.has_log4shell(version):
        warnings.append(
            f"flinkImage '{image}' (Flink {version}) ships a Log4j affected by CVE-2021-44228 (Log4Shell); "
            f"use a current image, e.g. `pulumi config set flinkImage {DEFAULT_IMAGE}`"
        )
    task_managers = read.integer("taskManagers", 2)
    task_slots = read.integer("taskSlots", 2)
    total_slots = task_managers * task_slots
    parallelism = read.integer("defaultParallelism", min(2, total_slots))
    if parallelism > total_slots:
        raise ConfigError(
            "defaultParallelism",
            f"{parallelism} exceeds the {total_slots} slots of taskManagers ({task_managers}) × taskSlots "
            f"({task_slots}); jobs would wait for slots forever",
            config_set("defaultParallelism", str(total_slots), note="or raise taskManagers/taskSlots"),
        )
    jm_memory = read.text("jobManagerMemory", "1600m") or "1600m"
    tm_memory = read.text("taskManagerMemory", "1728m") or "1728m"
    for key, value, minimum in (
        ("jobManagerMemory", jm_memory, flink_config.MIN_JOBMANAGER_PROCESS_BYTES),
        ("taskManagerMemory", tm_memory, flink_config.MIN_TASKMANAGER_PROCESS_BYTES),
    ):
        size = _validated(key, config_set(key, "1600m"), lambda v=value: flink_config.parse_memory(v))
        if size < minimum:
            raise ConfigError(key, f"{value} is below Flink's minimum process size of {minimum >> 20}m",
                              config_set(key, f"{max(minimum >> 20, 1600)}m"))
    cpus = {}
    for key in ("jobManagerCpu", "taskManagerCpu"):
        cpu = read.text(key, "1") or "1"
        if not _CPU.match(cpu) or cpu in ("0", "0m"):
            raise ConfigError(key, f"'{cpu}' is not a Kubernetes CPU quantity such as 1, 0.5 or 500m",
                              config_set(key, "1"))
        cpus[key] = cpu
    extra = read.structured("flinkConfig", dict, {}, '["state.backend.type"] rocksdb')
    reserved = sorted(k for k in extra if k in _RESERVED_FLINK_KEYS)
    if reserved:
        raise ConfigError("flinkConfig", f"sets {', '.join(reserved)}, which the program derives from other keys",
                          " && ".join(config_rm(path("flinkConfig", k)) for k in reserved)
                          + "  # then use " + ", ".join(_RESERVED_FLINK_KEYS[k] for k in reserved))
    # Serverless pods have no NodePort; the cloud layer puts an SLB in front instead.
    default_type = "LoadBalancer" if target == "ack" else "ClusterIP"
    service_type = read.choice("restServiceType", ("ClusterIP", "NodePort", "LoadBalancer"), default_type)
    if target == "ack" and service_type == "NodePort":
        raise ConfigError("restServiceType", "NodePort does not exist for serverless (ECI) pods",
                          config_rm("restServiceType", note="target ack binds the REST Service to an SLB"))
    return FlinkSettings(
        image=image,
        version=version,
        java_version=flink_config.java_version(image, version),
        size=flink_config.ClusterSize(
            task_managers=task_managers,
            task_slots=task_slots,
            default_parallelism=parallelism,
            jobmanager_memory=jm_memory,
            taskmanager_memory=tm_memory,
            jobmanager_cpu=cpus["jobManagerCpu"],
            taskmanager_cpu=cpus["taskManagerCpu"],
        ),
        extra_config=extra,
        rest_service_type=service_type,  # type: ignore[arg-type]
    ), warnings


# Options the program owns; setting them through flinkConfig would silently fight other keys.
_RESERVED_FLINK_KEYS = {
    "taskmanager.numberOfTaskSlots": "taskSlots",
    "parallelism.default": "defaultParallelism",
    "jobmanager.memory.process.size": "jobManagerMemory",
    "taskmanager.memory.process.size": "taskManagerMemory",
    "jobmanager.rpc.address": "namespace (the JobManager Service name is fixed)",
}


def _endpoint(read: _Reader, key: str, value: str) -> tuple[str, int]:
    match = _ENDPOINT.match(value)
    port = int(match["port"] or 80) if match else 0
    if not match or not 0 < port < 65536:
        raise ConfigError(key, f"'{value}' is not host:port",
                          config_set(key, note="e.g. <instance>-cn-hangzhou-vpc.hologres.aliyuncs.com:80"))
    return match["host"], port


def _hologres(read: _Reader) -> HologresSettings:
    endpoint = read.required_text("hologresEndpoint", "<instance>-cn-hangzhou-vpc.hologres.aliyuncs.com:80")
    host, port = _endpoint(read, "hologresEndpoint", endpoint)
    admin = read.text("hologresAdminEndpoint")
    admin_host, admin_port = _endpoint(read, "hologresAdminEndpoint", admin) if admin else (host, port)
    table = read.text("hologresTable", DEFAULT_TABLE) or DEFAULT_TABLE
    schema, name = _validated("hologresTable", f"pulumi config set hologresTable {DEFAULT_TABLE}",
                              lambda: hologres_ddl.parse_table_name(table))
    return HologresSettings(
        host=host,
        port=port,
        admin_host=admin_host,
        admin_port=admin_port,
        database=read.required_text("hologresDatabase", "<database>"),
        table=f"{schema}.{name}",
        drop_table_on_destroy=read.boolean("dropTableOnDestroy", False),
        user=read.secret("hologresUser", "AccessKey ID"),
        password=read.secret("hologresPassword", "AccessKey secret"),
    )


# The single-job keys, by the field of a `jobs` entry they stand for.
_SINGLE_JOB_KEYS = {"jar": "jobJar", "entryClass": "jobEntryClass", "args": "jobArgs",
                    "parallelism": "jobParallelism", "upgradeMode": "jobUpgradeMode",
                    "savepointDir": "savepointDir", "allowNonRestoredState": "jobAllowNonRestoredState",
                    "flinkConfig": "jobFlinkConfig"}


def _job(raw: Mapping[str, Any], name: str, key_of: Callable[[str], str], default_parallelism: int,
         secret: Mapping[str, bool], warnings: list[str]) -> JobSettings:
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
    entry_class = str(raw.get("entryClass") or DEFAULT_ENTRY_CLASS)
    if not _JAVA_CLASS.match(entry_class):
        raise ConfigError(key_of("entryClass"), f"'{entry_class}' is not a Java class name",
                          config_set(key_of("entryClass"), "com.example.Main"))
    args = raw.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, (str, int, float)) for a in args):
        raise ConfigError(key_of("args"), "must be a list of strings",
                          f"{config_rm(key_of('args'))} && {config_set(path(key_of('args'), 0), '--rows')}")
    parallelism = raw.get("parallelism") or default_parallelism
    if not isinstance(parallelism, int) or isinstance(parallelism, bool) or parallelism < 1:
        raise ConfigError(key_of("parallelism"), f"'{parallelism}' is not a whole number ≥ 1",
                          config_set(key_of("parallelism"), "2"))
    mode = raw.get("upgradeMode") or None
    if mode not in (None, "savepoint", "stateless"):
        raise ConfigError(key_of("upgradeMode"), f"'{mode}' is not savepoint or stateless",
                          config_set(key_of("upgradeMode"), "savepoint"))
    savepoint_dir = raw.get("savepointDir") or None
    if savepoint_dir and "://" not in str(savepoint_dir) and not str(savepoint_dir).startswith("/"):
        raise ConfigError(key_of("savepointDir"), f"'{savepoint_dir}' is not a URI every Flink pod can reach",
                          config_set(key_of("savepointDir"), note="e.g. oss://<bucket>/flink/savepoints"))
    allow = raw.get("allowNonRestoredState", False)
    if not isinstance(allow, bool):
        raise ConfigError(key_of("allowNonRestoredState"), f"'{allow}' is not true or false",
                          config_set(key_of("allowNonRestoredState"), "false"))
    flink_options = raw.get("flinkConfig") or {}
    if not isinstance(flink_options, dict):
        raise ConfigError(key_of("flinkConfig"), "must be a map of Flink options",
                          f"{config_rm(key_of('flinkConfig'))} && "
                          f"{config_set(path(key_of('flinkConfig'), 'pipeline.name'), 'orders')}")
    return JobSettings(name=name, jar=str(jar) if jar else None, entry_class=entry_class,
                       args=[str(a) for a in args], parallelism=parallelism, upgrade_mode=mode,
                       savepoint_dir=savepoint_dir, allow_non_restored_state=allow,
                       flink_config={str(k): str(v) for k, v in flink_options.items()},
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
                             secret, warnings))
        names = [job.name for job in jobs]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            again = len(names) - 1 - names[::-1].index(duplicate)
            raise ConfigError("jobs", f"the name '{duplicate}' is used twice",
                              config_set(path("jobs", again, "name"), note="asks for a name no other job has"))
        return jobs
    single: dict[str, Any] = {
        "jar": read.text("jobJar"),
        "entryClass": read.text("jobEntryClass", DEFAULT_ENTRY_CLASS),
        "args": read.string_list("jobArgs", "--rows"),
        # 0 (the Pulumi.yaml default) means "the cluster's defaultParallelism".
        "parallelism": read.integer("jobParallelism", 0, minimum=0),
        "upgradeMode": read.choice("jobUpgradeMode", ("savepoint", "stateless"), None),
        "savepointDir": read.text("savepointDir"),
        "allowNonRestoredState": read.boolean("jobAllowNonRestoredState", False),
        "flinkConfig": read.structured("jobFlinkConfig", dict, {}, '["pipeline.name"] orders'),
    }
    secret = {"args": read.is_secret("jobArgs"), "flinkConfig": read.is_secret("jobFlinkConfig")}
    return [_job(single, "main", _SINGLE_JOB_KEYS.__getitem__, default_parallelism, secret, warnings)]


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


def _unknown(key: str, name: str, value: Any, known: tuple[str, ...], key_for: Callable[[str], str], *,
             secret: bool) -> None:
    """A key nothing reads (`name` is its last part): one line naming it and the declared key it likely meant."""
    guess = closest(name, known)
    hint = f"did you mean {guess}?" if guess else "Pulumi.yaml lists the keys"
    fix = config_rm(key)
    if guess and not secret and isinstance(value, (str, int, float)) and not isinstance(value, bool):
        fix += " && " + config_set(key_for(guess), str(value))
    elif guess:
        fix += "  # then set " + key_for(guess)
    raise ConfigError(key, f"is not a setting of {PROJECT} ({hint})", fix)


def _check_known_keys(read: _Reader, keys: list[str]) -> None:
    prefix = f"{read.config.name}:"
    known = known_keys()
    for full_key in sorted(keys):
        key = full_key[len(prefix):] if full_key.startswith(prefix) else None
        if key is not None and key not in known:
            _unknown(key, key, read.config.get(key), known, lambda guess: guess, secret=read.is_secret(key))


def _job_deadlines(read: _Reader) -> JobDeadlines:
    return JobDeadlines(rest_seconds=read.integer("jobRestDeadlineSeconds", 300),
                        start_seconds=read.integer("jobStartDeadlineSeconds", 300),
                        savepoint_seconds=read.integer("savepointDeadlineSeconds", 600))


def _state_storage(read: _Reader, target: Target,
                   version: flink_config.FlinkVersion) -> tuple[str | None, list[str]]:
    """Where checkpoints and savepoints go: a bucket the program creates (ack), or the user's URI."""
    value = read.text("stateStorage", "oss" if target == "ack" else None)
    if value is None:
        return None, []
    if value == "oss":
        if target != "ack":
            raise ConfigError("stateStorage", "'oss' creates a bucket, which only target ack does",
                              config_set("stateStorage", note="e.g. oss://<existing-bucket>/flink, s3://…, hdfs://…"))
        scheme = "oss"
    else:
        location = _validated("stateStorage", config_set("stateStorage", note="e.g. oss://<bucket>/flink"),
                              lambda: flink_config.StateLocation(value))
        scheme = location.scheme
    _validated("flinkVersion", config_set("flinkVersion", f"{version}.0", note="the image's exact Flink version"),
               lambda: flink_config.filesystem_plugin_jar(scheme, version))
    warnings = []
    if scheme == "file":
        warnings.append(f"stateStorage '{value}' is local to each pod: savepoints do not survive a pod, "
                        "and other pods cannot read them; use a shared file system (oss://, s3://, hdfs://)")
    return value, warnings


def _cidr(key: str, value: str, fix: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        raise ConfigError(key, f"'{value}' is not a CIDR block ({error})", fix) from None


def _alicloud(read: _Reader, stack: str) -> AlicloudSettings:
    profile = read.choice("clusterProfile", ("Serverless", "Acs"), "Serverless")
    vpc_id = read.text("vpcId")
    vswitch_ids = read.string_list("vswitchIds", "[0]' vsw-xxxx")
    if bool(vpc_id) != bool(vswitch_ids):
        missing_key = "vswitchIds" if vpc_id else "vpcId"
        raise ConfigError(missing_key, "an existing network needs both vpcId and vswitchIds",
                          config_rm("vpcId" if vpc_id else "vswitchIds",
                                    note=f"to let the program create the network; or set {missing_key} too"))
    vpc_cidr = read.text("vpcCidr", "192.168.0.0/16") or "192.168.0.0/16"
    vswitch_cidr = read.text("vswitchCidr", "192.168.0.0/24") or "192.168.0.0/24"
    vpc_net = _cidr("vpcCidr", vpc_cidr, "pulumi config set vpcCidr 192.168.0.0/16")
    if vpc_net.version != 4:
        raise ConfigError("vpcCidr", f"{vpc_cidr} is IPv6; a VPC's primary CIDR is IPv4",
                          "pulumi config set vpcCidr 192.168.0.0/16")
    vsw_net = _cidr("vswitchCidr", vswitch_cidr, "pulumi config set vswitchCidr 192.168.0.0/24")
    if not vpc_id and (vsw_net.version != vpc_net.version or not vsw_net.subnet_of(vpc_net)):  # type: ignore[arg-type]
        first_subnet = next(vpc_net.subnets(new_prefix=max(vpc_net.prefixlen, 24)))
        raise ConfigError("vswitchCidr", f"{vswitch_cidr} is not inside vpcCidr {vpc_cidr}",
                          f"pulumi config set vswitchCidr {first_subnet}")
    ui_access = read.choice("uiAccess", ("intranet", "internet"), "intranet")
    allowed = read.string_list("uiAllowedCidrs", "[0]' 203.0.113.0/24")
    for index, cidr in enumerate(allowed):
        key = f"uiAllowedCidrs[{index}]"
        network = _cidr(key, cidr, f"pulumi config set --path '{key}' 203.0.113.0/24")
        if network.version != 4 and str(network) not in _ALLOW_ANYONE:
            raise ConfigError(key, f"{cidr} is IPv6, but the SLB and its ACL are IPv4",
                              config_set(key, "203.0.113.0/24", note="IPv4 ranges only"))
        if str(network) in _ALLOW_ANYONE or network.prefixlen == 0:
            raise ConfigError(key, f"{cidr} opens Flink's REST API to the whole internet; it has no "
                              "authentication and anyone who reaches it can run code",
                              config_set(key, "203.0.113.0/24", note="your office or VPN ranges only"))
    if ui_access == "internet" and not allowed:
        raise ConfigError("uiAllowedCidrs", "uiAccess internet needs an allowlist (Flink's REST API has no "
                          "authentication)", "pulumi config set --path 'uiAllowedCidrs[0]' 203.0.113.0/24")
    eci_use_specs = read.string_list("eciUseSpecs", "[0]' ecs.c6.large")
    if eci_use_specs and profile == "Acs":
        raise ConfigError("eciUseSpecs", "is an ECI (ACK Serverless) setting; ACS sizes pods from their "
                          "requests/limits", "pulumi config rm eciUseSpecs")
    return AlicloudSettings(
        cluster_profile=profile,  # type: ignore[arg-type]
        vpc_cidr=vpc_cidr,
        vswitch_cidr=vswitch_cidr,
        zone_id=read.text("zoneId"),
        vpc_id=vpc_id,
        vswitch_ids=vswitch_ids,
        deletion_protection=read.boolean("deletionProtection", False),
        kubernetes_version=read.text("kubernetesVersion"),
        ui_access=ui_access,  # type: ignore[arg-type]
        ui_allowed_cidrs=allowed,
        image_registry_mirror=read.text("imageRegistryMirror"),
        eci_use_specs=eci_use_specs,
    )


def _config_keys() -> list[str]:
    """Every key of the stack config (all namespaces), as the language host handed it to the program."""
    return sorted(set(pulumi.runtime.config.CONFIG.get()) | set(pulumi.runtime.config.get_config_env()))


def load(config: pulumi.Config | None = None, stack: str | None = None,
         keys: list[str] | None = None) -> Settings:
    """Read and validate the whole stack configuration; raises ConfigError on the first bad key."""
    read = _Reader(config or pulumi.Config(PROJECT))
    stack = stack or pulumi.get_stack()
    # A typo first: whatever else looks wrong may just follow from it.
    _check_known_keys(read, _config_keys() if keys is None else keys)
    target = read.choice("target", ("ack", "kubeconfig"), "ack")
    namespace = read.text("namespace", "flink") or "flink"
    if not _DNS_LABEL.match(namespace):
        raise ConfigError("namespace", f"'{namespace}' is not a Kubernetes name (lowercase letters, digits, '-')",
                          config_set("namespace", "flink"))
    flink, warnings = _flink(read, target)  # type: ignore[arg-type]
    hologres = _hologres(read)
    jobs = _jobs(read, flink.size.default_parallelism, warnings)
    _check_slots(jobs, flink.size, single=not read.structured("jobs", list, [], "[0]' orders"))
    state_storage, state_warnings = _state_storage(read, target, flink.version)  # type: ignore[arg-type]
    warnings += state_warnings
    high_availability = read.choice("highAvailability", ("none", "kubernetes"), "none")
    if high_availability == "kubernetes" and state_storage is None:
        raise ConfigError("highAvailability", "kubernetes HA keeps job metadata in durable storage, and "
                          "stateStorage is not set", config_set("stateStorage", note="e.g. oss://<bucket>/flink"))
    rest_url = read.text("flinkRestUrl")
    if rest_url and not re.match(r"^https?://[^\s/]+", rest_url):
        raise ConfigError("flinkRestUrl", f"'{rest_url}' is not an http(s) URL",
                          config_set("flinkRestUrl", "http://127.0.0.1:8081"))
    if (any(job.jar for job in jobs) and target == "kubeconfig" and not rest_url
            and flink.rest_service_type != "LoadBalancer"):
        # Jobs are submitted from the machine running `pulumi up`, which cannot reach a cluster address.
        raise ConfigError("flinkRestUrl", f"jobs are submitted from this machine, which cannot reach the "
                          f"{flink.rest_service_type} REST Service",
                          config_set("flinkRestUrl", "http://127.0.0.1:8081",
                                     note=f"with kubectl -n {namespace} port-forward svc/flink-jobmanager-rest "
                                     "8081 running; or set restServiceType LoadBalancer"))
    alicloud = _alicloud(read, stack) if target == "ack" else None
    if any(job.jar for job in jobs) and alicloud and alicloud.ui_access == "intranet" and not rest_url:
        warnings.append("jobs are submitted through the intranet SLB, which only machines inside the VPC (or on "
                        "a VPN into it) reach; elsewhere set flinkRestUrl, e.g. through kubectl port-forward")
    return Settings(
        project=PROJECT,
        stack=stack,
        target=target,  # type: ignore[arg-type]
        # Content or a path; read as a secret either way, since content carries credentials.
        kubeconfig=read.config.get_secret("kubeconfig") if read.text("kubeconfig") else None,
        namespace=namespace,
        flink=flink,
        hologres=hologres,
        jobs=jobs,
        job_deadlines=_job_deadlines(read),
        flink_rest_url=rest_url,
        alicloud=alicloud,
        high_availability=high_availability,  # type: ignore[arg-type]
        state_storage=state_storage,
        drop_state_on_destroy=read.boolean("dropStateOnDestroy", False),
        warnings=warnings,
    )
