"""The configuration the program renders boots a real Flink, for each configuration-file generation.

The ConfigMap's files are written as rendered; only hosts and ports are overridden (with -D), and
the TaskManagers get the environment the program's Secret holds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import requests

from components import flink_config
from tests.harness.flink import FLINK_RELEASES, FlinkCluster, bash_java_utils, flink_home
from tests.harness.program import run_program
from tests.test_program_flink import KUBECONFIG, SECRETS

pytestmark = pytest.mark.flink

IMAGES = {"1.18": "flink:1.18.1-scala_2.12-java17", "1.20": "flink:1.20.3-java17", "2.2": "flink:2.2.0-java17"}


@pytest.mark.parametrize("version", sorted(IMAGES))
def test_rendered_configuration_boots_flink_with_the_configured_slots(version: str) -> None:
    run = run_program({**KUBECONFIG, "flinkImage": IMAGES[version], "taskManagers": "2", "taskSlots": "3",
                       "defaultParallelism": "5"}, secrets=SECRETS)
    assert run.error is None, run.raw
    files = run.one("kubernetes:core/v1:ConfigMap").plain()["data"]
    expected_file = "flink-conf.yaml" if version == "1.18" else "config.yaml"
    assert expected_file in files
    env = run.one("kubernetes:core/v1:Secret", "flink-env").plain()["stringData"]

    with FlinkCluster(version=version, files=files, taskmanagers=2, taskmanager_env=env) as cluster:
        overview = cluster.overview()
        assert overview["flink-version"] == FLINK_RELEASES[version]
        assert overview["taskmanagers"] == 2
        assert overview["slots-total"] == 6
        managers = requests.get(f"{cluster.rest_url}/taskmanagers", timeout=5).json()["taskmanagers"]
        assert [m["slotsNumber"] for m in managers] == [3, 3]
        config = {e["key"]: e["value"] for e in requests.get(f"{cluster.rest_url}/jobmanager/config",
                                                               timeout=5).json()}
        assert config["parallelism.default"] == "5"
        assert config["taskmanager.numberOfTaskSlots"] == "3"
        assert config["jobmanager.memory.process.size"] in ("1600m", "1600 mb", str(1600 << 20))
        assert "--add-opens=java.base/java.util=ALL-UNNAMED" in config["env.java.opts.all"]
        # The rendered log4j-console.properties is the one in use: it writes the log file Flink's UI reads.
        assert "Starting StandaloneSessionClusterEntrypoint" in (cluster.work_dir / "jobmanager.log").read_text()  # type: ignore[operator]


def _write_config(version: str) -> Path:
    directory = Path(tempfile.mkdtemp(prefix="flink-memory-"))
    name = "flink-conf.yaml" if version == "1.18" else "config.yaml"
    (directory / name).write_text("# empty: Flink's defaults for everything but the size under test\n")
    return directory


@pytest.mark.parametrize("version", sorted(IMAGES))
@pytest.mark.parametrize(
    ("command", "option", "minimum"),
    [
        ("GET_JM_RESOURCE_PARAMS", "jobmanager.memory.process.size", flink_config.MIN_JOBMANAGER_PROCESS_BYTES),
        ("GET_TM_RESOURCE_PARAMS", "taskmanager.memory.process.size", flink_config.MIN_TASKMANAGER_PROCESS_BYTES),
    ],
)
def test_memory_minimums_are_flinks_own(version: str, command: str, option: str, minimum: int) -> None:
    """The program's minimum is exactly where Flink's BashJavaUtils starts refusing."""
    home = flink_home(version)
    config_dir = _write_config(version)
    accepted = bash_java_utils(home, command, config_dir, [f"-D{option}={minimum >> 20}m"])
    assert accepted.returncode == 0 and "BASH_JAVA_UTILS_EXEC_RESULT" in accepted.stdout, accepted.stdout[-1500:]
    refused = bash_java_utils(home, command, config_dir, [f"-D{option}={(minimum >> 20) - 1}m"])
    assert refused.returncode != 0 or "BASH_JAVA_UTILS_EXEC_RESULT" not in refused.stdout
