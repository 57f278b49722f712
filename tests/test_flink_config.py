"""Pure rendering of the Flink configuration: versions, file names, options, memory, checksum."""

from __future__ import annotations

import pytest
import yaml

from components import flink_config
from components.flink_config import FlinkVersion, SessionClusterConfig


@pytest.mark.parametrize(
    ("image", "version", "java"),
    [
        ("flink:1.20-java17", FlinkVersion(1, 20), 17),
        ("apache/flink:1.13.0-scala_2.11", FlinkVersion(1, 13, 0), 8),
        ("flink:2.2.0-java17", FlinkVersion(2, 2, 0), 17),
        ("registry.example.com/team/flink:1.20.3", FlinkVersion(1, 20, 3), 11),
        ("localhost:5000/flink:1.18.1-scala_2.12-java11", FlinkVersion(1, 18, 1), 11),
        ("flink:2.0", FlinkVersion(2, 0), 17),
    ],
)
def test_version_and_java_come_from_the_image_tag(image: str, version: FlinkVersion, java: int) -> None:
    assert flink_config.resolve_version(image, None) == version
    assert flink_config.java_version(image, version) == java


@pytest.mark.parametrize("image", ["flink", "flink:latest", "registry.example.com/flink@sha256:" + "a" * 64])
def test_a_tag_without_version_needs_flink_version(image: str) -> None:
    with pytest.raises(ValueError, match="flinkVersion"):
        flink_config.resolve_version(image, None)
    assert flink_config.resolve_version(image, "1.20") == FlinkVersion(1, 20)


def test_explicit_flink_version_wins_and_is_checked() -> None:
    assert flink_config.resolve_version("flink:1.18", "1.19.1") == FlinkVersion(1, 19, 1)
    with pytest.raises(ValueError, match="not a Flink version"):
        flink_config.resolve_version("flink:latest", "one.twenty")


@pytest.mark.parametrize("image", ["Flink:1.20", "flink:", "flink 1.20", "flink:1.20:extra"])
def test_malformed_image_references_are_refused(image: str) -> None:
    with pytest.raises(ValueError, match="not a container image reference"):
        flink_config.parse_image(image)


@pytest.mark.parametrize(
    ("version", "file_name"),
    [
        (FlinkVersion(1, 13, 0), "flink-conf.yaml"),
        (FlinkVersion(1, 18), "flink-conf.yaml"),
        (FlinkVersion(1, 19), "config.yaml"),
        (FlinkVersion(1, 20, 3), "config.yaml"),
        (FlinkVersion(2, 0), "config.yaml"),
        (FlinkVersion(2, 2, 0), "config.yaml"),
    ],
)
def test_config_file_follows_the_version_and_no_queryable_state(version: FlinkVersion, file_name: str) -> None:
    spec = _spec(version)
    files = flink_config.render_config_files(spec)
    assert set(files) == {file_name, flink_config.LOG4J_CONSOLE_FILE}
    # Queryable state is off (deprecated in 1.18, gone in 2.0): no option, no port, no Service.
    assert "queryable-state" not in files[file_name]


def _spec(version: FlinkVersion, java: int = 17, **extra: object) -> SessionClusterConfig:
    return SessionClusterConfig(version=version, java_version=java, jobmanager_address="flink-jobmanager",
                                task_slots=3, jobmanager_process_memory="1600m",
                                taskmanager_process_memory="1728m", default_parallelism=4, extra=extra)


def test_config_yaml_is_standard_yaml_with_the_tutorial_keys_and_user_options_on_top() -> None:
    files = flink_config.render_config_files(
        _spec(FlinkVersion(1, 20), **{"state.backend.type": "rocksdb", "rest.port": 8082,
                                      "pipeline.jars": ["file:///a.jar", "file:///b.jar"]}))
    options = yaml.safe_load(files["config.yaml"])
    assert options["jobmanager.rpc.address"] == "flink-jobmanager"
    assert options["jobmanager.rpc.port"] == 6123
    assert options["taskmanager.rpc.port"] == 6122
    assert options["blob.server.port"] == 6124
    assert options["taskmanager.numberOfTaskSlots"] == 3
    assert options["parallelism.default"] == 4
    assert options["jobmanager.memory.process.size"] == "1600m"
    assert options["taskmanager.memory.process.size"] == "1728m"
    assert options["state.backend.type"] == "rocksdb"
    assert options["rest.port"] == 8082  # the user's flinkConfig wins
    assert options["pipeline.jars"] == ["file:///a.jar", "file:///b.jar"]
    assert options["env.java.opts.all"] == flink_config.JAVA17_MODULE_OPTS


def test_legacy_flink_conf_is_key_value_lines() -> None:
    files = flink_config.render_config_files(
        _spec(FlinkVersion(1, 18), **{"pipeline.jars": ["file:///a.jar", "file:///b.jar"], "x.enabled": True}))
    lines = files["flink-conf.yaml"].splitlines()
    assert "taskmanager.numberOfTaskSlots: 3" in lines
    assert "pipeline.jars: file:///a.jar;file:///b.jar" in lines
    assert "x.enabled: true" in lines
    assert f"env.java.opts.all: {flink_config.JAVA17_MODULE_OPTS}" in lines


def test_java_module_flags_only_for_java_11_and_later() -> None:
    """Java 8 refuses --add-opens; 11+ needs nothing else, 17 fails without them."""
    assert "env.java.opts.all" not in flink_config.flink_options(_spec(FlinkVersion(1, 13, 0), java=8))
    assert "--add-opens=java.base/java.util=ALL-UNNAMED" in flink_config.flink_options(
        _spec(FlinkVersion(1, 20), java=17))["env.java.opts.all"]


@pytest.mark.parametrize(("version", "affected"), [
    (FlinkVersion(1, 13, 0), True), (FlinkVersion(1, 13, 5), False), (FlinkVersion(1, 14, 0), True),
    (FlinkVersion(1, 10, 3), True), (FlinkVersion(1, 15, 0), False), (FlinkVersion(2, 2, 0), False),
])
def test_log4shell_releases(version: FlinkVersion, affected: bool) -> None:
    assert flink_config.has_log4shell(version) is affected


@pytest.mark.parametrize(("text", "size"), [
    ("1600m", 1600 << 20), ("2g", 2 << 30), ("1728mb", 1728 << 20), ("1024 kb", 1 << 20), ("512", 512),
])
def test_memory_sizes_parse_like_flink(text: str, size: int) -> None:
    assert flink_config.parse_memory(text) == size


@pytest.mark.parametrize("text", ["", "lots", "1.5g", "-1m", "12 parsecs"])
def test_bad_memory_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a memory size"):
        flink_config.parse_memory(text)


def test_container_memory_matches_the_process_size() -> None:
    assert flink_config.container_memory(1600 << 20) == "1600Mi"
    assert flink_config.container_memory((1 << 30) + 1) == "1025Mi"


def test_checksum_changes_with_files_and_secret_keys_only() -> None:
    files = flink_config.render_config_files(_spec(FlinkVersion(1, 20)))
    base = flink_config.config_checksum(files, ["A", "B"])
    assert base == flink_config.config_checksum(dict(reversed(list(files.items()))), ["B", "A"])
    changed_files = flink_config.render_config_files(_spec(FlinkVersion(1, 20), **{"x": 1}))
    assert flink_config.config_checksum(changed_files, ["A", "B"]) != base
    assert flink_config.config_checksum(files, ["A", "B", "C"]) != base


@pytest.mark.parametrize(("version", "checkpoints_key", "savepoints_key"), [
    (FlinkVersion(1, 18, 1), "state.checkpoints.dir", "state.savepoints.dir"),
    (FlinkVersion(1, 20, 3), "state.checkpoints.dir", "state.savepoints.dir"),
    (FlinkVersion(2, 2, 0), "execution.checkpointing.dir", "execution.checkpointing.savepoint-dir"),
])
def test_state_option_names_follow_the_version(version: FlinkVersion, checkpoints_key: str,
                                               savepoints_key: str) -> None:
    location = flink_config.StateLocation("oss://bucket/flink/")
    assert flink_config.state_options(version, location) == {
        checkpoints_key: "oss://bucket/flink/checkpoints", savepoints_key: "oss://bucket/flink/savepoints"}


@pytest.mark.parametrize(("version", "type_option", "restart_key"), [
    (FlinkVersion(1, 15, 4), {"high-availability": flink_config.KUBERNETES_HA_FACTORY}, "restart-strategy"),
    (FlinkVersion(1, 18, 1), {"high-availability.type": "kubernetes"}, "restart-strategy.type"),
    (FlinkVersion(2, 2, 0), {"high-availability.type": "kubernetes"}, "restart-strategy.type"),
])
def test_kubernetes_ha_options_follow_the_version(version: FlinkVersion, type_option: dict[str, str],
                                                  restart_key: str) -> None:
    options = flink_config.high_availability_options(version, "flink-hologres",
                                                     flink_config.StateLocation("s3://b/flink"), namespace="team-ns")
    assert options == {**type_option, "kubernetes.cluster-id": "flink-hologres", "kubernetes.namespace": "team-ns",
                       "high-availability.storageDir": "s3://b/flink/ha", restart_key: "exponential-delay"}


@pytest.mark.parametrize(("scheme", "version", "jar"), [
    ("oss", FlinkVersion(1, 20, 3), "flink-oss-fs-hadoop-*.jar"),
    ("oss", FlinkVersion(1, 20), "flink-oss-fs-hadoop-*.jar"),  # no patch needed: the pattern matches any
    ("s3", FlinkVersion(2, 2, 0), "flink-s3-fs-presto-*.jar"),
    ("hdfs", FlinkVersion(1, 20), None),
    ("file", FlinkVersion(1, 20), None),
])
def test_filesystem_plugin_jar_patterns(scheme: str, version: FlinkVersion, jar: str | None) -> None:
    assert flink_config.filesystem_plugin_jar(scheme, version) == jar


SENTINEL_OPTION = "S3NT1NEL $HOME *  spaced\\ 'q' \"dq\""


@pytest.mark.parametrize("version", [FlinkVersion(1, 20, 3), FlinkVersion(2, 2, 0)])
def test_secret_options_render_as_yaml_that_flink_reads_back_unchanged(version: FlinkVersion) -> None:
    from tests.harness.flink import read_config_file

    text = flink_config.render_secret_options(version, {"fs.oss.accessKeySecret": SENTINEL_OPTION})
    merged = flink_config.render_config_files(_spec(version))["config.yaml"] + text
    assert read_config_file({"config.yaml": merged})["fs.oss.accessKeySecret"] == SENTINEL_OPTION


def test_secret_options_in_flink_conf_refuse_what_the_legacy_parser_mangles() -> None:
    version = FlinkVersion(1, 18, 1)
    assert flink_config.render_secret_options(version, {"k": "a $b *c"}) == "k: a $b *c\n"
    with pytest.raises(ValueError, match="secret Flink option 'k'"):
        flink_config.render_secret_options(version, {"k": "a#b"})
