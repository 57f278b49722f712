"""The authenticated REST API for real: Debian's nginx started with the rendered nginx.conf (the sidecar's
command) in front of a real Flink whose REST API listens on loopback only; the FlinkJob lifecycle through
it, via pulumi's provider host in the engine's order."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pulumi.runtime import rpc

from components import flink_rest_proxy as proxy
from components.flink_job import FlinkJobArgs, FlinkJobProvider
from components.flink_rest import FlinkRestClient, FlinkUnavailable
from tests.harness import missing
from tests.harness.engine import Engine
from tests.harness.flink import FlinkCluster
from tests.harness.flink_jobs import cancel_all_jobs, cluster_files, jobs_jar
from tests.harness.java import COUNTING_JOB
from tests.harness.provider_host import ProviderHost, resource_inputs
from tests.harness.rest_proxy import RestProxyServer

pytestmark = pytest.mark.flink
VERSION = "1.20"
USER, PASSWORD = "flink", "S3NT1NEL-rest-password-5e6f7a8b9c"


@pytest.fixture(scope="module")
def flink() -> Iterator[FlinkCluster]:
    with FlinkCluster(version=VERSION, files=cluster_files(VERSION, extra=proxy.flink_options()),
                      taskmanagers=1) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def gate(flink: FlinkCluster) -> Iterator[RestProxyServer]:
    with RestProxyServer(upstream_port=flink.rest_port, user=USER, password=PASSWORD) as server:
        yield server


@pytest.fixture
def ca_file(gate: RestProxyServer, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    path.write_text(gate.ca_pem)
    return str(path)


def _upload(url: str, **kwargs: Any) -> requests.Response:
    files = {"jarfile": ("evil.jar", b"PK\x05\x06" + b"\0" * 18, "application/x-java-archive")}
    return requests.post(f"{url}/jars/upload", files=files, timeout=10, **kwargs)


def test_no_credential_or_a_wrong_one_is_refused_for_every_endpoint(gate: RestProxyServer, ca_file: str) -> None:
    for auth in (None, (USER, "wrong-password"), ("admin", PASSWORD)):
        for response in (requests.get(f"{gate.url}/overview", verify=ca_file, auth=auth, timeout=10),
                         _upload(gate.url, verify=ca_file, auth=auth),
                         requests.post(f"{gate.url}/jars/x.jar/run", json={}, verify=ca_file, auth=auth, timeout=10),
                         requests.get(f"{gate.url}/jobmanager/config", verify=ca_file, auth=auth, timeout=10)):
            assert response.status_code == 401, (auth, response.request.url)
            assert response.headers["WWW-Authenticate"] == 'Basic realm="Flink"'  # the browser's prompt
            assert "flink-version" not in response.text
    ok = requests.get(f"{gate.url}/overview", verify=ca_file, auth=(USER, PASSWORD), timeout=10)
    assert ok.status_code == 200 and "flink-version" in ok.json()


def test_the_pinned_ca_admits_any_address_of_the_proxy_and_nothing_else(gate: RestProxyServer, tmp_path: Path) -> None:
    """A kubeconfig cluster's LoadBalancer or NodePort address is not in the certificate (it is made before
    the address exists): the pinned CA alone identifies the proxy, a certificate of another CA does not pass."""
    other_address = gate.url.replace("127.0.0.1", "127.0.0.2")  # loopback, but not a name in the certificate
    with FlinkRestClient(other_address, ca_pem=gate.ca_pem, auth=(USER, PASSWORD)) as client:
        assert client.overview().taskmanagers == 1
    with RestProxyServer(upstream_port=gate.upstream_port, user=USER, password=PASSWORD) as impostor, \
            pytest.raises(FlinkUnavailable, match="certificate verify failed|CERTIFICATE_VERIFY_FAILED"):
        FlinkRestClient(impostor.url.replace("127.0.0.1", "127.0.0.2"), ca_pem=gate.ca_pem,
                        auth=(USER, PASSWORD)).overview()


def test_plain_http_and_an_unpinned_client_are_refused(gate: RestProxyServer, flink: FlinkCluster) -> None:
    plain = requests.get(f"http://127.0.0.1:{gate.port}/overview", auth=(USER, PASSWORD), timeout=10)
    assert plain.status_code == 400 and "flink-version" not in plain.text
    # The system's CAs do not know the program's CA: verification fails before any credential is sent.
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(f"{gate.url}/overview", auth=(USER, PASSWORD), timeout=10)
    with pytest.raises(FlinkUnavailable, match="certificate verify failed|CERTIFICATE_VERIFY_FAILED"):
        FlinkRestClient(gate.url, auth=(USER, PASSWORD)).overview()
    # Another CA (pinned by mistake) does not do either.
    other = RestProxyServer(upstream_port=flink.rest_port, user=USER, password=PASSWORD)
    try:
        other.start()
        with pytest.raises(FlinkUnavailable, match="certificate verify failed|CERTIFICATE_VERIFY_FAILED"):
            FlinkRestClient(gate.url, ca_pem=other.ca_pem, auth=(USER, PASSWORD)).overview()
    finally:
        other.stop()


def test_flink_itself_listens_on_loopback_only(flink: FlinkCluster) -> None:
    # What another pod would reach: the pod's own address. Flink's port there is closed.
    address = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False).stdout.split()
    outside = [a for a in address if not a.startswith("127.") and ":" not in a]
    if not outside:
        missing("a non-loopback IPv4 address on this machine")  # fails under CI=true, never a silent skip
    with pytest.raises(OSError):
        socket.create_connection((outside[0], flink.rest_port), timeout=2).close()


def test_the_readiness_probe_needs_no_credential(flink: FlinkCluster, gate: RestProxyServer) -> None:
    # The exec probe's script, as bash runs it in the Flink container (only the port differs here).
    ready = subprocess.run(["bash", "-c", proxy.readiness_script(flink.rest_port)], timeout=10, check=False)
    assert ready.returncode == 0
    # Against the proxy (TLS, credentials) the same script is not ready: it probes Flink, not nginx.
    assert subprocess.run(["bash", "-c", proxy.readiness_script(gate.port)], timeout=10,
                          check=False).returncode != 0


def job_inputs(gate: RestProxyServer, name: str, **overrides: Any) -> dict[str, Any]:
    jar = jobs_jar(VERSION)
    args = FlinkJobArgs(rest_url=gate.url, jar_path=str(jar.path), jar_sha256=jar.sha256, entry_class=COUNTING_JOB,
                        parallelism=1, job_name=f"{name}-{time.time_ns()}", rest_deadline_seconds=60,
                        start_deadline_seconds=60, savepoint_deadline_seconds=60,
                        rest_ca_pem=gate.ca_pem, rest_user=USER)
    props = {**args.props(default_job_name=name), **overrides}
    # The program's secret Output: the engine sends it to the provider wrapped as a secret.
    props["rest_password"] = rpc.wrap_rpc_secret(PASSWORD)
    return resource_inputs(FlinkJobProvider(), props)


def test_the_job_lifecycle_runs_authenticated_and_no_secret_leaks(
        flink: FlinkCluster, gate: RestProxyServer, provider_host: ProviderHost, ca_file: str,
        tmp_path: Path) -> None:
    engine = Engine(provider_host)
    out, savepoints = tmp_path / "out", tmp_path / "savepoints"
    news = job_inputs(gate, "authed", args=[str(out), "v1", "4", "2"], upgrade_mode="savepoint",
                      savepoint_dir=str(savepoints))
    try:
        created = engine.up("job", news)
        assert engine.last_calls == ["check", "create"] and created.outputs["state"] == "RUNNING"
        upgraded = engine.up("job", {**news, "args": [str(out), "v2", "4", "2"]})
        assert engine.last_calls == ["check", "diff", "update"]
        assert upgraded.outputs["last_savepoint"] and upgraded.outputs["job_id"] != created.outputs["job_id"]

        def get(path: str) -> requests.Response:
            return requests.get(f"{gate.url}{path}", verify=ca_file, auth=(USER, PASSWORD), timeout=10)

        job_id = upgraded.outputs["job_id"]
        job_config, cluster_config = get(f"/jobs/{job_id}/config").text, get("/jobmanager/config").text
        engine.destroy("job")
        assert engine.last_calls == ["delete"]
        with FlinkRestClient(gate.url, ca_pem=gate.ca_pem, auth=(USER, PASSWORD)) as client:
            final = client.job_summary(job_id)  # live, not Flink's cached job view
        assert final is not None and final.state == "FINISHED"  # stopped with a final savepoint
    finally:
        cancel_all_jobs(flink.rest_url)
    # The password: a secret in the state, and nowhere in plain text.
    assert rpc.is_rpc_secret(upgraded.outputs["rest_password"])
    assert PASSWORD not in json.dumps({k: v for k, v in upgraded.outputs.items() if k != "rest_password"})
    for where, text in (("job config", job_config), ("/jobmanager/config", cluster_config),
                        ("provider host", provider_host.output()), ("Flink logs", flink.logs()),
                        ("nginx logs", gate.logs())):
        assert PASSWORD not in text, where
    assert '"GET /overview HTTP/1.1" 200' in gate.logs() and f" - {USER} [" in gate.logs()  # who, not how
