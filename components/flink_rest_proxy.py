"""Pure rendering of the authenticating REST proxy: nginx in the JobManager pod, in front of Flink's REST API.

Flink's REST API runs code for whoever reaches it (`POST /jars/upload` + `/jars/{id}/run`). With the
proxy, Flink listens on the pod's loopback only (`rest.bind-address: 127.0.0.1`) and the only way in
is nginx: TLS with a certificate from the program's own CA, then HTTP basic auth. nginx takes over the
port named `webui` and its number (8081), so each Service port equals its pod port; Flink's REST server
binds another port on loopback (`rest.bind-port`, its container port renamed) while `rest.port`, what
clients are told, stays 8081. Probes need no credential: the proxy's is a TCP check, Flink's readiness
an exec probe in the Flink container that speaks HTTP to 127.0.0.1 with bash's /dev/tcp (bash is in the
official image: its scripts are bash).

No Pulumi, no I/O: text and dicts, Deferred values (Outputs) passed through untouched.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components import flink_config

# The official nginx image (docker.io/library/nginx), Debian based; it runs as its `nginx` user here.
NGINX_IMAGE = "nginx:1.27.5"
NGINX_UID = 101  # the image's nginx user and group
PROXY_PORT = flink_config.REST_PORT  # what the Services target: the proxy takes over Flink's port number…
PROXY_PORT_NAME = "webui"  # …and its name
FLINK_REST_PORT_NAME = "flink-rest"  # Flink's own REST port, reachable from the pod's loopback only
FLINK_LOOPBACK_PORT = 18081
LOOPBACK = "127.0.0.1"
CONF_DIR = "/etc/nginx/flink"  # the Secret volume: nginx.conf, tls.crt, tls.key, htpasswd
TMP_DIR = "/tmp/nginx"  # an emptyDir: pid file and temp paths (the root filesystem is read-only)
CONF_FILE, CERT_FILE, KEY_FILE, HTPASSWD_FILE = "nginx.conf", "tls.crt", "tls.key", "htpasswd"
SECRET_KEYS = (CONF_FILE, CERT_FILE, KEY_FILE, HTPASSWD_FILE)
CONFIG_VOLUME, TMP_VOLUME = "rest-proxy", "rest-proxy-tmp"
MAX_UPLOAD = "2g"  # jar uploads go through; Flink has its own limit behind it
REALM = "Flink"


@dataclass(frozen=True)
class RestProxy:
    """What the JobManager pod needs for the proxy; `secret_name` is the Secret with SECRET_KEYS."""

    secret_name: Any  # Deferred: the auto-named Secret (a new one on rotation, which rolls the pod)
    image: str = NGINX_IMAGE


def flink_options() -> dict[str, str]:
    """Flink's REST API on loopback only, on its own port; `rest.address`/`rest.port` (what clients are told)
    stay the Service name and 8081.

    apache/flink flink-core/src/main/java/org/apache/flink/configuration/RestOptions.java (commit
    a16ec98c2758f6514cb26865c37a25e074c71d13): `rest.bind-port` (a port, list or range; falls back to
    `rest.port`) is where the server binds, `rest.port` where the client connects. tests/test_pods.py reads
    1.18, 1.20 and 2.2 on this port.
    """
    return {"rest.bind-address": LOOPBACK, "rest.bind-port": str(FLINK_LOOPBACK_PORT)}


def htpasswd_line(user: str, password: str) -> str:
    """`user:{SSHA}…` as nginx's auth_basic_user_file reads it: SHA-1 over password + salt, salt appended.

    The salt is derived from the user and password so that the same credentials render the same line
    (no Secret change, no pod roll, on every `pulumi up`); the password is 32 random characters, so a
    precomputed table is no threat and the salt only keeps equal passwords apart.
    """
    if ":" in user or "\n" in user or "\n" in password:
        raise ValueError("the REST user must not contain ':' or a newline")
    salt = hashlib.sha256(f"flink-hologres-rest\0{user}\0{password}".encode()).digest()[:8]
    digest = hashlib.sha1(password.encode() + salt).digest()  # noqa: S324 - the {SSHA} scheme is SHA-1
    return f"{user}:{{SSHA}}{base64.b64encode(digest + salt).decode()}\n"


def nginx_conf(*, listen_port: int = PROXY_PORT, upstream_port: int = FLINK_LOOPBACK_PORT,
               conf_dir: str = CONF_DIR, tmp_dir: str = TMP_DIR) -> str:
    """The whole nginx.conf. Uploads stream through (no request buffering), which keeps pace with a direct
    upload; the Authorization header stops at the proxy; plain HTTP on the TLS port gets 400."""
    return f"""# Rendered by flink-hologres: TLS + HTTP basic auth in front of Flink's REST API on loopback.
worker_processes 1;
pid {tmp_dir}/nginx.pid;
error_log stderr warn;

events {{
    worker_connections 256;
}}

http {{
    server_tokens off;
    # The default format logs the user name, never the password.
    access_log /dev/stdout;
    client_body_temp_path {tmp_dir}/body;
    proxy_temp_path {tmp_dir}/proxy;
    fastcgi_temp_path {tmp_dir}/fastcgi;
    uwsgi_temp_path {tmp_dir}/uwsgi;
    scgi_temp_path {tmp_dir}/scgi;
    client_max_body_size {MAX_UPLOAD};

    server {{
        listen {listen_port} ssl;
        ssl_certificate {conf_dir}/{CERT_FILE};
        ssl_certificate_key {conf_dir}/{KEY_FILE};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:tls:1m;

        auth_basic "{REALM}";
        auth_basic_user_file {conf_dir}/{HTPASSWD_FILE};

        location / {{
            proxy_pass http://{LOOPBACK}:{upstream_port};
            proxy_http_version 1.1;
            proxy_set_header Authorization "";
            proxy_set_header Host $host;
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_read_timeout 600s;
            proxy_send_timeout 600s;
        }}
    }}
}}
"""


def proxy_command(conf_dir: str = CONF_DIR) -> list[str]:
    """What the sidecar runs (the tests run exactly this, with their own paths)."""
    # -e: the compiled-in error log path is not writable (read-only root filesystem, non-root user).
    return ["nginx", "-e", "stderr", "-g", "daemon off;", "-c", f"{conf_dir}/{CONF_FILE}"]


def readiness_script(port: int = FLINK_LOOPBACK_PORT) -> str:
    """The Flink container's readiness without a credential: HTTP to loopback from inside the pod."""
    return (f"exec 3<>/dev/tcp/{LOOPBACK}/{port} && "
            "printf 'GET /overview HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && "
            "read -r _ status _ <&3 && [ \"$status\" = 200 ]")


def flink_readiness_probe() -> dict[str, Any]:
    return {"exec": {"command": ["bash", "-c", readiness_script()]},
            "initialDelaySeconds": 5, "periodSeconds": 10, "failureThreshold": 3, "timeoutSeconds": 5}


def sidecar_container(proxy: RestProxy) -> dict[str, Any]:
    return {
        "name": "rest-proxy",
        "image": proxy.image,
        "imagePullPolicy": "IfNotPresent",
        "command": proxy_command(),
        "ports": [{"name": PROXY_PORT_NAME, "containerPort": PROXY_PORT}],
        # Serverless pods are sized from requests/limits: keep the proxy small.
        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "250m", "memory": "128Mi"}},
        "securityContext": {
            "runAsNonRoot": True, "runAsUser": NGINX_UID, "runAsGroup": NGINX_UID,
            "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": True,
        },
        "volumeMounts": [{"name": CONFIG_VOLUME, "mountPath": CONF_DIR, "readOnly": True},
                         {"name": TMP_VOLUME, "mountPath": TMP_DIR}],
        "readinessProbe": {"tcpSocket": {"port": PROXY_PORT}, "periodSeconds": 10},
        "livenessProbe": {"tcpSocket": {"port": PROXY_PORT}, "initialDelaySeconds": 10, "periodSeconds": 30},
    }


def volumes(proxy: RestProxy) -> list[dict[str, Any]]:
    return [
        # Mounted in the proxy only: the Flink container never sees the key or the htpasswd.
        {"name": CONFIG_VOLUME, "secret": {"secretName": proxy.secret_name, "defaultMode": 0o444,
                                           "items": [{"key": k, "path": k} for k in SECRET_KEYS]}},
        {"name": TMP_VOLUME, "emptyDir": {"sizeLimit": "64Mi"}},
    ]


def patch_jobmanager(deployment: Mapping[str, Any], proxy: RestProxy) -> dict[str, Any]:
    """The JobManager Deployment spec with the proxy: Flink's REST port renamed, moved to the loopback port and
    probed from inside, the sidecar and its volumes added. Returns a new dict; the input is not changed."""
    template = dict(deployment["template"])
    pod = dict(template["spec"])
    containers = []
    for container in pod["containers"]:
        container = dict(container)
        container["ports"] = [{**p, "name": FLINK_REST_PORT_NAME, "containerPort": FLINK_LOOPBACK_PORT}
                              if p.get("name") == PROXY_PORT_NAME else p for p in container.get("ports", [])]
        readiness = container.get("readinessProbe") or {}
        if readiness.get("httpGet", {}).get("port") in (flink_config.REST_PORT, PROXY_PORT_NAME):
            container["readinessProbe"] = flink_readiness_probe()
        containers.append(container)
    pod["containers"] = [*containers, sidecar_container(proxy)]
    pod["volumes"] = [*pod.get("volumes", []), *volumes(proxy)]
    template["spec"] = pod
    return {**deployment, "template": template}


def secret_data(*, cert_pem: str, key_pem: str, user: str, password: str) -> dict[str, str]:
    """The proxy Secret's stringData (all of it goes in the one Secret: the key and the htpasswd are secret)."""
    return {CONF_FILE: nginx_conf(), CERT_FILE: cert_pem, KEY_FILE: key_pem,
            HTPASSWD_FILE: htpasswd_line(user, password)}
