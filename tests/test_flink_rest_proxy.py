"""The REST proxy's pure rendering: the JobManager pod patch and the htpasswd line (nginx itself runs in
tests/test_flink_rest_auth.py)."""

from __future__ import annotations

import base64
import copy
import hashlib

import pytest

from components import flink_manifests
from components import flink_rest_proxy as proxy
from components.flink_config import parse_version


def _jobmanager() -> dict:
    return flink_manifests.deployment_spec(flink_manifests.PodSpecInput(
        instance="flink", component="jobmanager", version=parse_version("1.20.3"), image="flink:1.20.3-java17",
        replicas=1, process_memory="1600m", cpu="1", config_map_name="cm", config_file_name="config.yaml",
        secret_name="env", secret_keys=["HOLO_ACCESS_KEY"], checksum="c"))


def test_the_patch_hands_the_webui_port_to_the_proxy_and_probes_flink_from_inside() -> None:
    original = _jobmanager()
    before = copy.deepcopy(original)
    patched = proxy.patch_jobmanager(original, proxy.RestProxy(secret_name="rest-proxy-abc"))
    assert original == before  # a new dict; the input is untouched
    flink, sidecar = patched["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for c in (flink, sidecar) for p in c["ports"]}
    # Names and numbers stay unique in the pod; the proxy takes the Services' port, Flink moves to loopback's.
    assert ports["webui"] == proxy.PROXY_PORT == 8081 and ports["flink-rest"] == 18081
    assert flink["readinessProbe"]["exec"]["command"] == ["bash", "-c", proxy.readiness_script(18081)]
    assert flink["livenessProbe"] == before["template"]["spec"]["containers"][0]["livenessProbe"]
    volumes = {v["name"]: v for v in patched["template"]["spec"]["volumes"]}
    assert volumes["rest-proxy"]["secret"]["secretName"] == "rest-proxy-abc"
    assert [i["key"] for i in volumes["rest-proxy"]["secret"]["items"]] == list(proxy.SECRET_KEYS)
    assert "rest-proxy" not in {m["name"] for m in flink["volumeMounts"]}


def test_the_htpasswd_line_is_ssha_and_stable() -> None:
    line = proxy.htpasswd_line("flink", "p" * 32)
    user, scheme_hash = line.strip().split(":", 1)
    assert user == "flink" and scheme_hash.startswith("{SSHA}") and "p" * 8 not in line
    raw = base64.b64decode(scheme_hash.removeprefix("{SSHA}"))
    digest, salt = raw[:20], raw[20:]
    assert hashlib.sha1(b"p" * 32 + salt).digest() == digest  # noqa: S324 - the scheme nginx verifies
    assert proxy.htpasswd_line("flink", "p" * 32) == line  # same credentials, same Secret: no pod roll
    assert proxy.htpasswd_line("flink", "q" * 32) != line
    with pytest.raises(ValueError):
        proxy.htpasswd_line("a:b", "p" * 32)


def test_flink_listens_on_loopback_and_the_proxy_forwards_there() -> None:
    assert proxy.flink_options() == {"rest.bind-address": "127.0.0.1", "rest.bind-port": "18081"}
    conf = proxy.nginx_conf()
    assert "listen 8081 ssl;" in conf and "proxy_pass http://127.0.0.1:18081;" in conf
    assert "auth_basic_user_file /etc/nginx/flink/htpasswd;" in conf
    assert 'proxy_set_header Authorization "";' in conf  # the credential stops at the proxy
