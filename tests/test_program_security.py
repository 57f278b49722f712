"""The program under the SDK mocks: the pods hold the job's table-scoped login, never the admin key (issue 12)."""

from __future__ import annotations

import json

import pytest

from tests.harness.program import ProgramRun, plaintext_occurrences, run_program
from tests.harness.secret_mocks import sentinel

ADMIN_USER, ADMIN_KEY = "AKID-S3NT1NEL-admin-user-1b2c", "S3NT1NEL-admin-key-8d7e-do-not-leak"
WRITER_PASSWORD = sentinel("hologres-writer-password", "password")
WRITER = "pulumi-python:dynamic/hologres:Writer"
SECRET = "kubernetes:core/v1:Secret"


@pytest.fixture(scope="module")
def dev() -> ProgramRun:
    run = run_program({"target": "kubeconfig"}, secrets={"hologresUser": ADMIN_USER, "hologresPassword": ADMIN_KEY},
                      invokes={"__resource_outputs__": {WRITER: {"loginName": "flink_dev_writer"}}})
    assert run.error is None, run.raw
    return run


def test_the_writer_is_declared_after_the_table_for_its_one_table(dev: ProgramRun) -> None:
    writer = dev.one(WRITER, "hologres-writer")
    table = dev.one("pulumi-python:dynamic/hologres:Table", "order-details")
    password = dev.one("random:index/randomPassword:RandomPassword", "hologres-writer-password")
    assert table.urn in writer.dependencies and password.urn in writer.dependencies
    inputs = writer.plain()
    assert (inputs["schemaName"], inputs["tableName"], inputs["login"]) == ("public", "order_details",
                                                                             "flink_dev_writer")
    assert password.plain()["keepers"] == {"rotation": ""} and password.plain()["length"] == 32
    assert "password" in writer.additional_secret_outputs
    assert dev.outputs["hologresWriterLogin"] == "flink_dev_writer"


def test_the_pods_get_the_writer_login_and_no_admin_credential(dev: ProgramRun) -> None:
    data = dev.one(SECRET).plain()["stringData"]
    assert (data["HOLO_ACCESS_ID"], data["HOLO_ACCESS_KEY"]) == ("flink_dev_writer", WRITER_PASSWORD)
    everything = json.dumps([r.inputs for r in dev.resources if r.type.startswith("kubernetes:")])
    assert ADMIN_KEY not in everything and ADMIN_USER not in everything
    for resource in dev.resources:
        # The generated password: only inside secret markers, and only in the Secret and the writer.
        assert list(plaintext_occurrences(resource.inputs, WRITER_PASSWORD)) == [], resource.name
        if resource.type not in (SECRET, WRITER):
            assert WRITER_PASSWORD not in json.dumps(resource.inputs), resource.name
    assert WRITER_PASSWORD not in json.dumps(dev.outputs) + json.dumps(dev.logs)


def test_rotation_changes_the_password_keeper_and_a_bad_login_is_one_line() -> None:
    rotated = run_program({"target": "kubeconfig", "credentialsRotation": "2026-12"},
                          secrets={"hologresUser": ADMIN_USER, "hologresPassword": ADMIN_KEY})
    assert rotated.error is None, rotated.raw
    keepers = rotated.one("random:index/randomPassword:RandomPassword").plain()["keepers"]
    assert keepers == {"rotation": "2026-12"}
    bad = run_program({"target": "kubeconfig", "hologresWriterLogin": "bad-name!"},
                      secrets={"hologresUser": ADMIN_USER, "hologresPassword": ADMIN_KEY})
    assert bad.error is not None and "hologresWriterLogin" in bad.error
    assert "pulumi config set hologresWriterLogin flink_writer" in bad.error
    assert [r for r in bad.resources if r.custom] == []  # nothing declared
