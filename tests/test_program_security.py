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
    data = dev.one(SECRET, "flink-env").plain()["stringData"]
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
    for name in ("hologres-writer-password", "flink-rest-auth-password"):
        keepers = rotated.one("random:index/randomPassword:RandomPassword", name).plain()["keepers"]
        assert keepers == {"rotation": "2026-12"}, name
    # The REST keys are replaced (and with them every certificate signed from them).
    for key in rotated.of_type("tls:index/privateKey:PrivateKey"):
        assert key.replacement_trigger == "2026-12", key.name
    bad = run_program({"target": "kubeconfig", "hologresWriterLogin": "bad-name!"},
                      secrets={"hologresUser": ADMIN_USER, "hologresPassword": ADMIN_KEY})
    assert bad.error is not None and "hologresWriterLogin" in bad.error
    assert "pulumi config set hologresWriterLogin flink_writer" in bad.error
    assert [r for r in bad.resources if r.custom] == []  # nothing declared


REST_PASSWORD = sentinel("flink-rest-auth-password", "password")
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def rest_key(run: ProgramRun) -> str:
    """A line of the server's private key (a real, random key under the mocks): the sentinel to follow."""
    pem = run.one("tls:index/privateKey:PrivateKey", "flink-rest-auth-server-key").state()["privateKeyPem"]
    return pem.splitlines()[2]  # the first base64 line starts with the fixed PKCS#8 header


def test_the_jobmanager_pod_gets_the_authenticating_proxy(dev: ProgramRun) -> None:
    pod = dev.one(DEPLOYMENT, "flink-jobmanager").plain()["spec"]["template"]["spec"]
    flink, sidecar = pod["containers"]
    assert sidecar["name"] == "rest-proxy" and sidecar["image"] == "nginx:1.27.5"
    assert sidecar["command"] == ["nginx", "-e", "stderr", "-g", "daemon off;", "-c", "/etc/nginx/flink/nginx.conf"]
    # What both Services target, on the Services' own port number (no port mapping).
    assert sidecar["ports"] == [{"name": "webui", "containerPort": 8081}]
    assert sidecar["readinessProbe"] == {"tcpSocket": {"port": 8081}, "periodSeconds": 10}
    assert sidecar["securityContext"]["runAsUser"] == 101 and sidecar["securityContext"]["readOnlyRootFilesystem"]
    # Only the proxy mounts the key and the htpasswd.
    assert {m["name"] for m in flink["volumeMounts"]}.isdisjoint({"rest-proxy"})
    proxy_secret = dev.one(SECRET, "flink-rest-auth-proxy")
    volume = next(v for v in pod["volumes"] if v["name"] == "rest-proxy")
    assert volume["secret"]["secretName"] == proxy_secret.state()["metadata"]["name"]
    data = proxy_secret.plain()["stringData"]
    assert sorted(data) == ["htpasswd", "nginx.conf", "tls.crt", "tls.key"]
    assert data["htpasswd"].startswith("flink:{SSHA}") and rest_key(dev) in data["tls.key"]
    assert "listen 8081 ssl;" in data["nginx.conf"] and "proxy_pass http://127.0.0.1:18081;" in data["nginx.conf"]
    config = dev.one("kubernetes:core/v1:ConfigMap").plain()["data"]
    flink_conf = next(text for name, text in config.items() if name.endswith("yaml"))
    assert "127.0.0.1" in flink_conf and "18081" in flink_conf and "rest.port: 8081" in flink_conf
    assert dev.outputs["flinkUiUser"] == "flink" and dev.outputs["flinkRestCaPem"].startswith("-----BEGIN CERT")
    assert dev.outputs["flinkUiPassword"] == {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                                              "value": REST_PASSWORD}  # a secret output


def test_the_rest_password_and_key_are_secret_everywhere(dev: ProgramRun) -> None:
    for resource in dev.resources:
        for needle in (REST_PASSWORD, rest_key(dev)):
            assert list(plaintext_occurrences(resource.inputs, needle)) == [], resource.name
    assert REST_PASSWORD not in json.dumps(dev.one(DEPLOYMENT, "flink-jobmanager").inputs)
    assert list(plaintext_occurrences(dev.outputs, REST_PASSWORD)) == []
    assert REST_PASSWORD not in json.dumps(dev.logs)


def test_rest_auth_off_renders_the_plain_cluster() -> None:
    run = run_program({"target": "kubeconfig", "restAuth": False},
                      secrets={"hologresUser": ADMIN_USER, "hologresPassword": ADMIN_KEY})
    assert run.error is None, run.raw
    pod = run.one(DEPLOYMENT, "flink-jobmanager").plain()["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["jobmanager"]
    assert not run.of_type("flink-hologres:flink:RestAuth") and "flinkUiPassword" not in run.outputs
