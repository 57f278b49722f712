"""Durable state options against a real Flink, per version: with the rendered configuration (HA off,
a file:// state URI), checkpoints land under the configured checkpoint directory and a savepoint
triggered without a target directory lands in the configured savepoint directory. That proves the
option names (state.* in 1.x, execution.checkpointing.* in 2.x) are the ones each version reads."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from components.flink_rest import FlinkRestClient
from tests.harness.flink import FlinkCluster
from tests.harness.flink_jobs import jobs_jar
from tests.harness.java import COUNTING_JOB
from tests.harness.program import run_program
from tests.test_flink_boot import IMAGES
from tests.test_program_flink import KUBECONFIG, SECRETS

pytestmark = pytest.mark.flink


@pytest.mark.parametrize("version", sorted(IMAGES))
def test_checkpoints_and_default_savepoints_land_in_the_state_location(version: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    run = run_program({**KUBECONFIG, "flinkImage": IMAGES[version], "stateStorage": f"file://{state}",
                       "taskManagers": "1", "taskSlots": "2", "defaultParallelism": "1",
                       "flinkConfig": {"execution.checkpointing.interval": "300 ms"}}, secrets=SECRETS)
    assert run.error is None, run.raw
    files = run.one("kubernetes:core/v1:ConfigMap").plain()["data"]
    jar = jobs_jar(version)

    with FlinkCluster(version=version, files=files, taskmanagers=1) as cluster, \
            FlinkRestClient(cluster.rest_url) as client:
        uploaded = client.ensure_jar(str(jar.path), jar.sha256)
        job_id = client.run_jar(uploaded.jar_id, entry_class=COUNTING_JOB, args=[str(tmp_path / "out"), "v1"],
                                parallelism=1, job_id=None, savepoint_path=None, allow_non_restored_state=False,
                                configuration={})
        deadline = time.monotonic() + 60
        checkpoints = state / "checkpoints" / job_id
        while not any(checkpoints.glob("chk-*")):
            assert time.monotonic() < deadline, f"no checkpoint under {checkpoints}:\n{cluster.logs()[-3000:]}"
            time.sleep(0.2)
        savepoint = client.stop_with_savepoint(job_id, None, 60)  # no target directory: the configured one
        assert Path(savepoint.removeprefix("file:")).parent == state / "savepoints"
        assert (Path(savepoint.removeprefix("file:")) / "_metadata").is_file()
