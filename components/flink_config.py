"""Flink configuration, rendered as text: version → config file name and content, memory, logging.

Pure functions, no Pulumi and no I/O, so the same rendering is checked under the SDK mocks and
booted for real by the tests.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml

from components import flink_metrics

# The tutorial's (and Flink's standalone-Kubernetes docs') well-known ports.
JOBMANAGER_RPC_PORT = 6123
BLOB_SERVER_PORT = 6124
REST_PORT = 8081
TASKMANAGER_RPC_PORT = 6122
QUERYABLE_STATE_PROXY_PORT = 6125

LOG4J_CONSOLE_FILE = "log4j-console.properties"

# What Flink's own conf/config.yaml (1.18+) sets for Java 17: without these, job submission fails
# with InaccessibleObjectException. Replacing the image's config drops them, so we carry them.
JAVA17_MODULE_OPTS = " ".join(
    [f"--add-exports={m}=ALL-UNNAMED" for m in (
        "java.base/sun.net.util",
        "java.rmi/sun.rmi.registry",
        "jdk.compiler/com.sun.tools.javac.api",
        "jdk.compiler/com.sun.tools.javac.file",
        "jdk.compiler/com.sun.tools.javac.parser",
        "jdk.compiler/com.sun.tools.javac.tree",
        "jdk.compiler/com.sun.tools.javac.util",
        "java.security.jgss/sun.security.krb5",
    )]
    + [f"--add-opens=java.base/{p}=ALL-UNNAMED" for p in (
        "java.lang",
        "java.net",
        "java.io",
        "java.nio",
        "sun.nio.ch",
        "java.lang.reflect",
        "java.text",
        "java.time",
        "java.util",
        "java.util.concurrent",
        "java.util.concurrent.atomic",
        "java.util.concurrent.locks",
    )]
)

# Flink's log4j-console.properties, as the official image ships it: console (`kubectl logs`) plus a
# rolling file that the web UI's log view reads. The file lives in the container's writable layer
# (ephemeral storage, which serverless pods cap): 20 MB × (1 + 5 rolled) ≤ 120 MB per pod, not Flink's 100 MB × 10.
LOG4J_CONSOLE_PROPERTIES = """\
# Rendered by flink-hologres; based on Flink's conf/log4j-console.properties.
monitorInterval = 30

rootLogger.level = INFO
rootLogger.appenderRef.console.ref = ConsoleAppender
rootLogger.appenderRef.rolling.ref = RollingFileAppender

# Keep noisy dependencies at INFO even when the root level is lowered.
logger.akka.name = akka
logger.akka.level = INFO
logger.pekko.name = org.apache.pekko
logger.pekko.level = INFO
logger.kafka.name = org.apache.kafka
logger.kafka.level = INFO
logger.hadoop.name = org.apache.hadoop
logger.hadoop.level = INFO
logger.zookeeper.name = org.apache.zookeeper
logger.zookeeper.level = INFO
logger.shaded_zookeeper.name = org.apache.flink.shaded.zookeeper3
logger.shaded_zookeeper.level = INFO

appender.console.name = ConsoleAppender
appender.console.type = CONSOLE
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n

appender.rolling.name = RollingFileAppender
appender.rolling.type = RollingFile
appender.rolling.append = true
appender.rolling.fileName = ${sys:log.file}
appender.rolling.filePattern = ${sys:log.file}.%i
appender.rolling.layout.type = PatternLayout
appender.rolling.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
appender.rolling.policies.type = Policies
appender.rolling.policies.size.type = SizeBasedTriggeringPolicy
appender.rolling.policies.size.size = 20MB
appender.rolling.policies.startup.type = OnStartupTriggeringPolicy
appender.rolling.strategy.type = DefaultRolloverStrategy
appender.rolling.strategy.max = ${env:MAX_LOG_FILE_NUMBER:-5}

# Suppress the irrelevant (wrong) warnings from the Netty channel handler.
logger.netty.name = org.jboss.netty.channel.DefaultChannelPipeline
logger.netty.level = OFF
"""


class FlinkVersion(NamedTuple):
    major: int
    minor: int
    patch: int | None = None

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}" + ("" if self.patch is None else f".{self.patch}")

    @property
    def release(self) -> tuple[int, int]:
        return (self.major, self.minor)


_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")
# A Flink version at the start of an image tag: "1.20", "1.20-java17", "1.13.0-scala_2.11", "2.2.0-java17".
_TAG_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?=$|[-_])")
_TAG_JAVA = re.compile(r"(?:^|[-_])java(\d+)(?:$|[-_])")
# Docker reference: [registry[:port]/]path[:tag][@digest]; tags are [\w][\w.-]{0,127}.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    r"^(?P<repository>(?:[a-zA-Z0-9.-]+(?::\d+)?/)?" + _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)


def parse_version(text: str) -> FlinkVersion:
    match = _VERSION.match(text.strip())
    if not match:
        raise ValueError(f"'{text}' is not a Flink version such as 1.20 or 2.2.0")
    major, minor, patch = match.groups()
    return FlinkVersion(int(major), int(minor), None if patch is None else int(patch))


@dataclass(frozen=True)
class ImageRef:
    repository: str
    tag: str | None
    digest: str | None


def parse_image(image: str) -> ImageRef:
    match = _IMAGE.match(image.strip())
    if not match:
        raise ValueError(f"'{image}' is not a container image reference such as flink:1.20-java17")
    return ImageRef(match["repository"], match["tag"], match["digest"])


def version_from_image(image: str) -> FlinkVersion | None:
    """The Flink version an image tag names, or None when the tag does not say (latest, a digest)."""
    tag = parse_image(image).tag
    if not tag:
        return None
    match = _TAG_VERSION.match(tag)
    if not match:
        return None
    major, minor, patch = match.groups()
    return FlinkVersion(int(major), int(minor), None if patch is None else int(patch))


def resolve_version(image: str, explicit: str | None) -> FlinkVersion:
    """`flinkVersion` wins; otherwise the image tag must name the version."""
    if explicit:
        return parse_version(explicit)
    version = version_from_image(image)
    if version is None:
        raise ValueError(
            f"the image '{image}' does not name a Flink version in its tag; "
            "set flinkVersion (e.g. `pulumi config set flinkVersion 1.20`)"
        )
    return version


def java_version(image: str, version: FlinkVersion) -> int:
    """The Java major version of an official Flink image: from its tag, else that release's default."""
    tag = parse_image(image).tag or ""
    match = _TAG_JAVA.search(tag)
    if match:
        return int(match.group(1))
    if version.major >= 2:
        return 17
    # The official images switched their default from Java 8 to 11 with Flink 1.15.
    return 11 if version.release >= (1, 15) else 8


def config_file_name(version: FlinkVersion) -> str:
    """Flink ≤1.18 reads flink-conf.yaml; 1.19+ reads config.yaml (2.x reads nothing else)."""
    return "flink-conf.yaml" if version.release <= (1, 18) else "config.yaml"


def has_queryable_state(version: FlinkVersion) -> bool:
    return version.major < 2


def has_log4shell(version: FlinkVersion) -> bool:
    """Flink releases whose images ship a Log4j affected by CVE-2021-44228 (fixed in 1.11.6/1.12.7/1.13.5/1.14.2)."""
    fixed = {(1, 11): 6, (1, 12): 7, (1, 13): 5, (1, 14): 2}
    if version.release < (1, 11):
        return True
    if version.release in fixed:
        return (version.patch or 0) < fixed[version.release]
    return False


# --- memory --------------------------------------------------------------------------------------

_MEMORY = re.compile(r"^\s*(\d+)\s*([a-zA-Z]*)\s*$")
_UNITS = {
    "": 1, "b": 1, "bytes": 1,
    "k": 1 << 10, "kb": 1 << 10, "kibibytes": 1 << 10,
    "m": 1 << 20, "mb": 1 << 20, "mebibytes": 1 << 20,
    "g": 1 << 30, "gb": 1 << 30, "gibibytes": 1 << 30,
    "t": 1 << 40, "tb": 1 << 40, "tebibytes": 1 << 40,
}

# The smallest process sizes Flink accepts with its default memory fractions (JVM overhead ≥ 192m,
# metaspace 256m/96m, TaskManager network ≥ 64m and framework heap/off-heap 128m each). The tests
# prove each bound against Flink's own BashJavaUtils: the minimum starts, one MiB less is refused.
MIN_JOBMANAGER_PROCESS_BYTES = 577 << 20
MIN_TASKMANAGER_PROCESS_BYTES = 982 << 20


def parse_memory(text: str) -> int:
    """Bytes in a Flink MemorySize string ("1600m", "2g", "1728mb")."""
    match = _MEMORY.match(str(text))
    unit = match.group(2).lower() if match else None
    if not match or unit not in _UNITS:
        raise ValueError(f"'{text}' is not a memory size such as 1600m or 2g")
    return int(match.group(1)) * _UNITS[unit]


def container_memory(process_bytes: int) -> str:
    """A Kubernetes quantity for a Flink process size: the pod gets exactly what Flink plans to use."""
    return f"{math.ceil(process_bytes / (1 << 20))}Mi"


# --- sizes -------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ClusterSize:
    """How big the session cluster is: Flink's process sizes and the pods' CPU."""

    task_managers: int = 2
    task_slots: int = 2
    default_parallelism: int = 2
    jobmanager_memory: str = "1600m"
    taskmanager_memory: str = "1728m"
    jobmanager_cpu: str = "1"
    taskmanager_cpu: str = "1"

    @property
    def total_slots(self) -> int:
        return self.task_managers * self.task_slots


# --- the configuration file ---------------------------------------------------------------------


@dataclass(frozen=True)
class SessionClusterConfig:
    """What the session cluster's Flink configuration is made of."""

    version: FlinkVersion
    java_version: int
    jobmanager_address: str
    task_slots: int
    jobmanager_process_memory: str
    taskmanager_process_memory: str
    default_parallelism: int
    extra: Mapping[str, Any] = field(default_factory=dict)
    state: StateLocation | None = None
    # Set: Kubernetes HA with this cluster id (needs `state`).
    high_availability_cluster_id: str | None = None
    # Set: Flink's Prometheus reporter listens on this port in every pod (flink_metrics).
    metrics_port: int | None = None


def flink_options(spec: SessionClusterConfig) -> dict[str, Any]:
    """The flat Flink options, in the order they are written: ours first, then the user's on top."""
    options: dict[str, Any] = {
        "jobmanager.rpc.address": spec.jobmanager_address,
        "jobmanager.rpc.port": JOBMANAGER_RPC_PORT,
        "jobmanager.bind-host": "0.0.0.0",
        "taskmanager.bind-host": "0.0.0.0",
        "taskmanager.rpc.port": TASKMANAGER_RPC_PORT,
        "blob.server.port": BLOB_SERVER_PORT,
        "rest.address": spec.jobmanager_address,
        "rest.port": REST_PORT,
        "rest.bind-address": "0.0.0.0",
        "taskmanager.numberOfTaskSlots": spec.task_slots,
        "parallelism.default": spec.default_parallelism,
        "jobmanager.memory.process.size": spec.jobmanager_process_memory,
        "taskmanager.memory.process.size": spec.taskmanager_process_memory,
    }
    if has_queryable_state(spec.version):
        options["queryable-state.proxy.ports"] = QUERYABLE_STATE_PROXY_PORT
    if spec.java_version >= 11:
        options["env.java.opts.all"] = JAVA17_MODULE_OPTS
    if spec.state is not None:
        options.update(state_options(spec.version, spec.state))
        if spec.high_availability_cluster_id:
            options.update(high_availability_options(spec.version, spec.high_availability_cluster_id, spec.state))
    if spec.metrics_port:
        options.update(flink_metrics.reporter_options(spec.metrics_port))
    options.update(spec.extra)
    return options


def _legacy_value(value: Any) -> str:
    """flink-conf.yaml is 'key: value' lines, not YAML: lists are ';'-joined, booleans lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ";".join(_legacy_value(v) for v in value)
    if isinstance(value, Mapping):
        return ",".join(f"{k}:{_legacy_value(v)}" for k, v in value.items())
    return str(value)


def render_config_file(version: FlinkVersion, options: Mapping[str, Any]) -> tuple[str, str]:
    """(file name, content) of the Flink configuration file for this version."""
    name = config_file_name(version)
    header = f"# Rendered by flink-hologres for Flink {version}. Edit the Pulumi config, not this file.\n"
    if name == "flink-conf.yaml":
        body = "".join(f"{key}: {_legacy_value(value)}\n" for key, value in options.items())
    else:
        # Flink 1.19+ parses standard YAML; flat dotted keys are accepted as they are.
        body = yaml.safe_dump(dict(options), sort_keys=False, default_flow_style=False, width=1 << 16)
    return name, header + body


def render_config_files(spec: SessionClusterConfig) -> dict[str, str]:
    """The ConfigMap's data: the configuration file and log4j-console.properties."""
    name, content = render_config_file(spec.version, flink_options(spec))
    return {name: content, LOG4J_CONSOLE_FILE: LOG4J_CONSOLE_PROPERTIES}


def config_checksum(files: Mapping[str, str], secret_keys: Iterable[str]) -> str:
    """A stable digest of the rendered files and the Secret's key names (never its values)."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    for key in sorted(secret_keys):
        digest.update(b"secret-key\0" + key.encode() + b"\0")
    return digest.hexdigest()


# --- durable state and high availability --------------------------------------------------------

# The official image's entrypoint links these from opt/ into plugins/ (ENABLE_BUILT_IN_PLUGINS).
_FILESYSTEM_PLUGINS = {
    "oss": "flink-oss-fs-hadoop",
    "s3": "flink-s3-fs-presto",
    "s3p": "flink-s3-fs-presto",
    "s3a": "flink-s3-fs-hadoop",
    "gs": "flink-gs-fs-hadoop",
    "abfs": "flink-azure-fs-hadoop",
    "abfss": "flink-azure-fs-hadoop",
    "wasb": "flink-azure-fs-hadoop",
    "wasbs": "flink-azure-fs-hadoop",
}
# Schemes Flink reads without a plugin (hdfs needs Hadoop on the classpath, which is the user's image).
_NATIVE_SCHEMES = {"file", "hdfs", "viewfs"}
KUBERNETES_HA_FACTORY = "org.apache.flink.kubernetes.highavailability.KubernetesHaServicesFactory"


@dataclass(frozen=True)
class StateLocation:
    """Where checkpoints, savepoints and HA metadata go: one durable base URI."""

    base_uri: str

    def __post_init__(self) -> None:
        if "://" not in self.base_uri:
            raise ValueError(f"'{self.base_uri}' is not a URI such as oss://bucket/flink or s3://bucket/flink")
        scheme = self.scheme
        if scheme not in _FILESYSTEM_PLUGINS and scheme not in _NATIVE_SCHEMES:
            raise ValueError(f"'{scheme}://' is not a file system Flink ships (oss, s3, gs, abfs, hdfs, file)")

    @property
    def scheme(self) -> str:
        return self.base_uri.split("://", 1)[0].lower()

    def _child(self, name: str) -> str:
        return f"{self.base_uri.rstrip('/')}/{name}"

    @property
    def checkpoints(self) -> str:
        return self._child("checkpoints")

    @property
    def savepoints(self) -> str:
        return self._child("savepoints")

    @property
    def high_availability(self) -> str:
        return self._child("ha")


def filesystem_plugin_jar(scheme: str, version: FlinkVersion) -> str | None:
    """The jar name in the image's opt/ for a scheme, or None when Flink needs no plugin for it."""
    plugin = _FILESYSTEM_PLUGINS.get(scheme)
    if plugin is None:
        return None
    if version.patch is None:
        raise ValueError(
            f"the {plugin} plugin's jar name needs Flink's full version, but only {version} is known; "
            f"set flinkVersion to e.g. {version}.0, or use an image tag with the patch version"
        )
    return f"{plugin}-{version}.jar"


def state_options(version: FlinkVersion, location: StateLocation) -> dict[str, Any]:
    """Checkpoint and savepoint directories, under the option names this version reads."""
    if version.major >= 2:
        return {"execution.checkpointing.dir": location.checkpoints,
                "execution.checkpointing.savepoint-dir": location.savepoints}
    return {"state.checkpoints.dir": location.checkpoints, "state.savepoints.dir": location.savepoints}


def high_availability_options(version: FlinkVersion, cluster_id: str, location: StateLocation) -> dict[str, Any]:
    """Kubernetes HA: leader election and job metadata in ConfigMaps, the rest under `location`."""
    # `high-availability.type` and the `kubernetes` short name arrived in 1.16; older releases take the factory.
    type_option = ({"high-availability.type": "kubernetes"} if version.release >= (1, 16)
                   else {"high-availability": KUBERNETES_HA_FACTORY})
    return {
        **type_option,
        "kubernetes.cluster-id": cluster_id,
        "high-availability.storageDir": location.high_availability,
        # A failing job backs off instead of hammering its sink; `restart-strategy.type` arrived in 1.17.
        ("restart-strategy.type" if version.release >= (1, 17) else "restart-strategy"): "exponential-delay",
    }
