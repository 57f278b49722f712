"""What a kubelet does to a pod spec before a container runs, as plain functions: env resolution
(secretKeyRef, configMapKeyRef, fieldRef, `$(VAR)` expansion, service links), volume contents
(ConfigMap/Secret with the `..data` symlink layout, emptyDirs), /etc/hosts with Service names.

References: Kubernetes `third_party/forked/golang/expansion/expand.go` (the `$(VAR)` / `$$` rules),
`pkg/kubelet/envvars/envvars.go` (service link variables), `pkg/volume/util/atomic_writer.go`
(`..data` → `..<timestamp>` layout), `pkg/volume/volume_linux.go` (fsGroup ownership). Image
defaults from apache/flink-docker's Dockerfiles (e.g. 1.20/scala_2.12-java17-ubuntu/Dockerfile at
983be3455636eb12cd1d3dee1efc8e32c4b875db: FLINK_HOME, PATH, WORKDIR; eclipse-temurin: JAVA_HOME).
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

IMAGE_ENV = {
    "FLINK_HOME": "/opt/flink",
    "PATH": "/opt/flink/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "JAVA_HOME": "/opt/java/openjdk",
    "HOME": "/opt/flink",  # useradd --home-dir $FLINK_HOME flink
}
IMAGE_WORKDIR = "/opt/flink"
# The official nginx image (nginxinc/docker-nginx mainline/debian/Dockerfile at
# 0215f8f7e23edf761913c61534ca8dcac27740df): nginx.org's Debian package, so the binary is /usr/sbin/nginx
# (Debian's own nginx-light, which the harness runs, has the same path); Docker's default PATH; no WORKDIR.
NGINX_IMAGE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
NGINX_BINARY = "/usr/sbin/nginx"


def image_kind(image: str) -> str:
    """"flink" or "nginx": the two images this project's pods run (any registry or mirror in front)."""
    repository = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    if repository in ("flink", "nginx"):
        return repository
    raise PodSpecError(f"image {image}: the harness lays out only the flink and nginx images")
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class PodSpecError(Exception):
    """The pod spec asks for something a kubelet would refuse (or this harness cannot reproduce)."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined names are replaced, undefined stay as written, $$ is $."""
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2:end]
                    out.append(env[name] if name in env else text[i:end + 1])
                    i = end + 1
                    continue
        out.append(char)
        i += 1
    return "".join(out)


def secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    data.update({k: str(v).encode() for k, v in (secret.get("stringData") or {}).items()})
    return data


def _env_name(service: str) -> str:
    return service.upper().replace("-", "_")


def service_link_env(services: list[dict[str, Any]], addresses: Mapping[str, str]) -> dict[str, str]:
    """{SVC}_SERVICE_HOST/_PORT… for every Service of the namespace. `addresses`: Service name → the IP
    its name resolves to here (there is no kube-proxy: a selected pod's IP stands in for the ClusterIP)."""
    env: dict[str, str] = {}
    for service in services:
        name = service["metadata"]["name"]
        ip, ports = addresses.get(name), service["spec"].get("ports") or []
        if ip is None or not ports:
            continue
        prefix = _env_name(name)
        first = ports[0]
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(first["port"])
        for port in ports:
            if port.get("name"):
                env[f"{prefix}_SERVICE_PORT_{_env_name(port['name'])}"] = str(port["port"])
        env[f"{prefix}_PORT"] = f"tcp://{ip}:{first['port']}"
        for port in ports:
            key = f"{prefix}_PORT_{port['port']}_TCP"
            env[key] = f"tcp://{ip}:{port['port']}"
            env[f"{key}_PROTO"], env[f"{key}_PORT"], env[f"{key}_ADDR"] = "tcp", str(port["port"]), ip
    return env


def field_value(path: str, pod: Mapping[str, Any], pod_ip: str) -> str:
    values = {
        "status.podIP": pod_ip, "status.podIPs": pod_ip, "status.hostIP": pod_ip,
        "metadata.name": pod["metadata"]["name"], "metadata.namespace": pod["metadata"]["namespace"],
        "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
        "spec.nodeName": "harness-node",
    }
    if path not in values:
        raise PodSpecError(f"fieldRef {path} is not supported by the harness")
    return values[path]


def container_env(container: Mapping[str, Any], pod: Mapping[str, Any], pod_ip: str, *,
                  secrets: Mapping[str, Mapping[str, Any]], config_maps: Mapping[str, Mapping[str, Any]],
                  link_env: Mapping[str, str]) -> dict[str, str]:
    """The container's env as the kubelet builds it (without the image's ENV, which the runtime adds)."""
    env: dict[str, str] = {}
    for entry in container.get("env") or []:
        name = entry["name"]
        if "value" in entry:
            env[name] = expand(str(entry["value"]), {**link_env, **env})
            continue
        source = entry["valueFrom"]
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            data = secret_data(secrets[ref["name"]])
            if ref["key"] not in data:
                raise PodSpecError(f"secret {ref['name']} has no key {ref['key']}")
            env[name] = data[ref["key"]].decode()
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[name] = str(config_maps[ref["name"]]["data"][ref["key"]])
        elif "fieldRef" in source:
            env[name] = field_value(source["fieldRef"]["fieldPath"], pod, pod_ip)
        else:
            raise PodSpecError(f"env {name}: unsupported source {sorted(source)}")
    if pod["spec"].get("enableServiceLinks", True):
        return {**link_env, **env}
    return {k: v for k, v in link_env.items() if k.startswith("KUBERNETES_")} | env


def hosts_file(pod_name: str, pod_ip: str, namespace: str, service_ips: Mapping[str, list[str]]) -> str:
    """The kubelet's /etc/hosts plus every Service name (short, namespaced, FQDN), as cluster DNS answers."""
    lines = ["# Kubernetes-managed hosts file (pod harness).", "127.0.0.1\tlocalhost",
             "::1\tlocalhost ip6-localhost ip6-loopback", f"{pod_ip}\t{pod_name}"]
    for service, ips in sorted(service_ips.items()):
        names = f"{service} {service}.{namespace} {service}.{namespace}.svc {service}.{namespace}.svc.cluster.local"
        lines += [f"{ip}\t{names}" for ip in ips]
    return "\n".join(lines) + "\n"


def atomic_dir(root: Path, files: Mapping[str, bytes], mode: int, gid: int | None) -> None:
    """The AtomicWriter layout: `..<timestamp>/` with the files, `..data` → it, each path → `..data/path`."""
    root.mkdir(parents=True)
    stamp = root / time.strftime("..%Y_%m_%d_%H_%M_%S.0000000001", time.gmtime())
    stamp.mkdir()
    for path, content in files.items():
        target = stamp / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        # fsGroup: the group owns the files and can read them (volume_linux.go, read-only volumes).
        os.chmod(target, mode | (0o440 if gid is not None else 0))
        if gid is not None:
            os.chown(target, 0, gid)
    (root / "..data").symlink_to(stamp.name)
    for top in sorted({path.split("/", 1)[0] for path in files}):
        (root / top).symlink_to(f"..data/{top}")
    for directory in (root, stamp):
        os.chmod(directory, 0o755 if gid is None else 0o2755)
        if gid is not None:
            os.chown(directory, 0, gid)


def materialise_volume(volume: Mapping[str, Any], root: Path, *, secrets: Mapping[str, Mapping[str, Any]],
                       config_maps: Mapping[str, Mapping[str, Any]], fs_group: int | None) -> None:
    """Write one pod volume's contents under `root` as the kubelet would."""
    if "emptyDir" in volume:
        root.mkdir(parents=True)
        os.chmod(root, 0o777 if fs_group is None else 0o2777)
        if fs_group is not None:
            os.chown(root, 0, fs_group)
        return
    if "configMap" in volume:
        spec = volume["configMap"]
        data = {k: str(v).encode() for k, v in config_maps[spec["name"]]["data"].items()}
    elif "secret" in volume:
        spec = volume["secret"]
        data = secret_data(secrets[spec["secretName"]])
    else:
        raise PodSpecError(f"volume {volume['name']}: only emptyDir, configMap and secret are supported")
    items = spec.get("items")
    if items:
        missing_keys = [item["key"] for item in items if item["key"] not in data]
        if missing_keys:
            raise PodSpecError(f"volume {volume['name']}: no key(s) {missing_keys}")
        files = {item["path"]: data[item["key"]] for item in items}
    else:
        files = dict(data)
    atomic_dir(root, files, int(spec.get("defaultMode", 0o644)), fs_group)
