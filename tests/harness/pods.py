"""Run the rendered Deployments' pods the way a kubelet runs them, with Linux namespaces (root only).

Input: the Kubernetes objects the program registered (Deployments, Services, ConfigMaps, Secrets).
For each replica of each Deployment: a network namespace on a bridge that lives in a private "node"
namespace (10.244.0.0/24, only inside namespaces made here); an /etc/hosts with the kubelet's lines
plus every Service name (short, namespaced and cluster.local forms) → the IPs of the pods it selects,
standing in for cluster DNS — and since hosts entries map no ports, every Service port must equal its
targetPort; ConfigMap/Secret volumes read-only in the `..data` layout with `items` honoured; emptyDirs
owned per fsGroup; /opt/flink as the official image lays it out (lib/, opt/, plugins/ from
apache-flink-libraries, bin/ and conf/ from apache-flink, on a tmpfs per container like an image's
writable layer) and the JDK at the image's JAVA_HOME; for the nginx image (the REST proxy sidecar) the
host's Debian nginx at the image's path and an empty /etc/nginx. Init containers run to completion first,
then each main container's exact command/args with the env resolved as Kubernetes resolves it, through
`nsenter` (network) + `unshare` (mount, UTS) + `setpriv` (uid/gid, fsGroup as supplementary group, no
capabilities, no_new_privs). The harness starts nothing of Flink itself: what runs is what the manifest
says. Probes run as the kubelet runs them: httpGet/tcpSocket from the node namespace against the pod IP,
exec inside the container's namespaces as its user.

Not reproduced: a real kubelet/CRI, kube-proxy (no ClusterIPs), seccomp, cgroup limits, a read-only root
filesystem, the image's OS (the host's Debian userland, JDK 17 and nginx stand in for the images' Ubuntu,
Temurin and nginx.org's build).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests

from tests.harness import kubelet, missing
from tests.harness.flink import flink_home, flink_scripts, java_binary
from tests.harness.netns import GATEWAY, Network, in_netns, require_tools

T = TypeVar("T")
# Where a container may mount volumes: paths on a per-container tmpfs (the host's own directories
# are never written to). Every manifest path of this project is under one of them.
MOUNTABLE_ROOTS = ("/opt/", "/run/", "/var/run/", "/tmp/")
NGINX_ROOTS = ("/etc/nginx/",)  # the nginx image's config directory, a tmpfs of its own here
WORK_ROOT = Path("/var/tmp/flink-hologres-pods")
# SIGTERM first, as the kubelet does; a shorter grace than its 30 s keeps the tests quick.
STOP_GRACE_S = 5.0
_counter = 0


def unique_prefix() -> str:
    """A name prefix for namespaces of one test: unique per process and call."""
    global _counter
    _counter += 1
    return f"fh{os.getpid() % 100000}x{_counter}"


@dataclass(frozen=True)
class ApiServer:
    """Where the pods' KUBERNETES_SERVICE_HOST/PORT point, and the CA and token their ServiceAccount gets."""

    ip: str = GATEWAY
    port: int = 443
    ca_pem: bytes = b""
    token: str = "harness-token"


@dataclass
class Container:
    pod: Pod
    name: str
    spec: dict[str, Any]
    init: bool
    log: Path
    user: tuple[int, int, list[int]] = (0, 0, [])  # uid, gid, groups
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def logs(self, tail: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-tail:] if self.log.exists() else ""

    def path(self, inside: str) -> Path:
        """A path as this container sees it (its mount namespace, through /proc/<pid>/root)."""
        return Path(f"/proc/{self.pid}/root") / inside.lstrip("/")

    def environ(self) -> dict[str, str]:
        raw = Path(f"/proc/{self.pid}/environ").read_bytes()
        return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)

    def cmdline(self) -> list[str]:
        return Path(f"/proc/{self.pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]


@dataclass
class Pod:
    name: str
    deployment: str
    metadata: dict[str, Any]
    spec: dict[str, Any]
    ip: str = ""
    containers: list[Container] = field(default_factory=list)

    def container(self, name: str | None = None) -> Container:
        mains = [c for c in self.containers if not c.init and (name is None or c.name == name)]
        assert mains, f"{self.name} has no container {name}"
        return mains[0]

    def ports(self) -> dict[str, int]:
        return {p["name"]: p["containerPort"] for c in self.spec["containers"] for p in c.get("ports", [])
                if "name" in p}


def _setpriv(container: Container) -> list[str]:
    """Become `container`'s user: its uid/gid and groups, no capabilities, no_new_privs."""
    uid, gid, groups = container.user
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", f"--groups={','.join(map(str, groups))}",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def _by_kind(objects: Sequence[Mapping[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [dict(o) for o in objects if o.get("kind") == kind]


class PodCluster:
    """The pods of `deployments` (default: all) from `objects`, started and torn down by `start`/`stop`."""

    def __init__(self, objects: Sequence[Mapping[str, Any]], *, version: str,
                 deployments: Sequence[str] | None = None, api_server: ApiServer | None = None,
                 extra_opt: Mapping[str, Path] | None = None) -> None:
        require_tools()
        self.version = version
        self.network = Network(unique_prefix())
        # Not under /tmp: each container gets its own tmpfs there, which would hide the volume sources.
        WORK_ROOT.mkdir(parents=True, exist_ok=True)
        self.work_dir = Path(tempfile.mkdtemp(prefix=f"{self.network.prefix}-", dir=WORK_ROOT))
        self.api_server = api_server or ApiServer()
        self.extra_opt = dict(extra_opt or {})
        self.home, self.scripts = flink_home(version), flink_scripts(version)
        self.jdk = Path(os.path.realpath(java_binary())).parents[1]
        self.secrets = {s["metadata"]["name"]: s for s in _by_kind(objects, "Secret")}
        self.config_maps = {c["metadata"]["name"]: c for c in _by_kind(objects, "ConfigMap")}
        self.services = _by_kind(objects, "Service")
        self.deployments = [d for d in _by_kind(objects, "Deployment")
                            if deployments is None or d["metadata"]["name"] in deployments]
        self.pods: list[Pod] = []

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self, on_network: Callable[[str], None] | None = None) -> PodCluster:
        """Start every pod; `on_network(node_netns)` runs once the node namespace exists, before any pod
        (e.g. to start a server the pods talk to)."""
        try:
            self._start(on_network)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, on_network: Callable[[str], None] | None) -> None:
        self.network.create()
        if on_network is not None:
            on_network(self.network.node)
        for deployment in self.deployments:
            template = deployment["spec"]["template"]
            for index in range(int(deployment["spec"].get("replicas", 1))):
                name = f"{deployment['metadata']['name']}-{index}"
                metadata = {**template["metadata"], "name": name, "namespace": deployment["metadata"]["namespace"]}
                pod = Pod(name, deployment["metadata"]["name"], metadata, template["spec"])
                pod.ip = self.network.add_pod(name)
                self.pods.append(pod)
        self.service_ips = self._service_ips()
        link_env = kubelet.service_link_env(self.services, {k: v[0] for k, v in self.service_ips.items()})
        link_env.update(self._kubernetes_env())
        for pod in self.pods:
            self._prepare(pod)
            for spec in pod.spec.get("initContainers", []):
                container = self._container(pod, spec, init=True, link_env=link_env)
                self._run_to_completion(container)
        for pod in self.pods:
            for spec in pod.spec["containers"]:
                self._container(pod, spec, init=False, link_env=link_env)

    def stop(self) -> None:
        """Kill every process started here (by PID, with its process group), then delete the namespaces."""
        for pod in self.pods:
            for container in pod.containers:
                if container.running():
                    os.killpg(container.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for pod in self.pods:
            for container in pod.containers:
                if container.process is None:
                    continue
                try:
                    container.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(container.pid, signal.SIGKILL)
                    container.process.wait(timeout=10)
                # Children of the start scripts (e.g. a BashJavaUtils JVM) share the process group.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(container.pid, signal.SIGKILL)
        self.network.destroy()
        shutil.rmtree(self.work_dir, ignore_errors=True)

    # -- what the kubelet does ---------------------------------------------------------------------

    def _service_ips(self) -> dict[str, list[str]]:
        ips: dict[str, list[str]] = {}
        for service in self.services:
            selector = service["spec"].get("selector") or {}
            selected = [p for p in self.pods if selector.items() <= p.metadata.get("labels", {}).items()]
            if not selected:
                continue
            for port in service["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                for pod in selected:
                    number = pod.ports().get(target, target) if isinstance(target, str) else target
                    if number != port["port"]:
                        raise kubelet.PodSpecError(
                            f"Service {service['metadata']['name']} port {port['port']} → targetPort {target} "
                            f"({number}): /etc/hosts maps names, not ports, so the harness needs them equal")
            ips[service["metadata"]["name"]] = [p.ip for p in selected]
        return ips

    def _kubernetes_env(self) -> dict[str, str]:
        api = self.api_server
        return {"KUBERNETES_SERVICE_HOST": api.ip, "KUBERNETES_SERVICE_PORT": str(api.port),
                "KUBERNETES_SERVICE_PORT_HTTPS": str(api.port), "KUBERNETES_PORT": f"tcp://{api.ip}:{api.port}",
                f"KUBERNETES_PORT_{api.port}_TCP": f"tcp://{api.ip}:{api.port}",
                f"KUBERNETES_PORT_{api.port}_TCP_PROTO": "tcp", f"KUBERNETES_PORT_{api.port}_TCP_PORT": str(api.port),
                f"KUBERNETES_PORT_{api.port}_TCP_ADDR": api.ip}

    def _prepare(self, pod: Pod) -> None:
        root = self.work_dir / pod.name
        fs_group = pod.spec.get("securityContext", {}).get("fsGroup")
        for volume in pod.spec.get("volumes", []):
            kubelet.materialise_volume(volume, root / "volumes" / volume["name"], secrets=self.secrets,
                                       config_maps=self.config_maps, fs_group=fs_group)
        if pod.spec.get("automountServiceAccountToken", True):
            token = {"token": self.api_server.token.encode(), "ca.crt": self.api_server.ca_pem,
                     "namespace": pod.metadata["namespace"].encode()}
            kubelet.atomic_dir(root / "serviceaccount", token, 0o644, fs_group)
        (root / "hosts").write_text(kubelet.hosts_file(pod.name, pod.ip, pod.metadata["namespace"],
                                                       self.service_ips))

    def _mounts(self, pod: Pod, spec: Mapping[str, Any]) -> list[tuple[Path, str, bool]]:
        root = self.work_dir / pod.name
        mounts = []
        roots = MOUNTABLE_ROOTS + (NGINX_ROOTS if kubelet.image_kind(spec["image"]) == "nginx" else ())
        for mount in spec.get("volumeMounts", []):
            path = mount["mountPath"]
            if not path.startswith(roots):
                raise kubelet.PodSpecError(f"mountPath {path} is outside {roots}")
            volume = next(v for v in pod.spec["volumes"] if v["name"] == mount["name"])
            read_only = bool(mount.get("readOnly")) or "configMap" in volume or "secret" in volume
            mounts.append((root / "volumes" / mount["name"], path, read_only))
        if pod.spec.get("automountServiceAccountToken", True):
            mounts.append((root / "serviceaccount", kubelet.SERVICE_ACCOUNT_DIR, True))
        return mounts

    def _image_layout(self) -> list[str]:
        q = shlex.quote
        lines = [
            # The image: /opt/flink as the official Dockerfile lays it out (owned by flink), JDK at JAVA_HOME.
            "mount -t tmpfs -o mode=0755 image /opt",
            "mkdir -p /opt/flink/lib /opt/flink/opt /opt/flink/plugins /opt/flink/log /opt/java/openjdk",
            f"cp -R {q(str(self.scripts / 'bin'))} {q(str(self.scripts / 'conf'))} /opt/flink/",
            f"mount -o bind,ro {q(str(self.jdk))} /opt/java/openjdk",
            f"mount -o bind,ro {q(str(self.home / 'lib'))} /opt/flink/lib",
            f"mount -o bind,ro {q(str(self.home / 'plugins'))} /opt/flink/plugins",
        ]
        opt = {p.name: p for p in (self.home / "opt").iterdir()} | self.extra_opt
        for name, source in sorted(opt.items()):
            lines += [f"touch /opt/flink/opt/{q(name)}", f"mount -o bind,ro {q(str(source))} /opt/flink/opt/{q(name)}"]
        lines.append("chown -R 9999:9999 /opt/flink/bin /opt/flink/conf /opt/flink/log && chown 9999:9999 /opt/flink")
        return lines

    def _setup_script(self, pod: Pod, spec: Mapping[str, Any], uid: int, gid: int, groups: list[int]) -> str:
        q = shlex.quote
        flink = kubelet.image_kind(spec["image"]) == "flink"
        # nginx: the host's /usr/sbin/nginx is the image's binary path; its /etc/nginx stays hidden (an
        # empty directory, as a config of the image's own would be unused: the command names its file).
        image = self._image_layout() if flink else ["mount -t tmpfs -o mode=0755 image /etc/nginx"]
        lines = [
            "set -eu",
            *image,
            "mount -t tmpfs -o mode=1777 tmp /tmp",
            "mount -t tmpfs -o mode=0755 run /run",
            f"mount -o bind,ro {q(str(self.work_dir / pod.name / 'hosts'))} /etc/hosts",
        ]
        for source, target, read_only in self._mounts(pod, spec):
            options = "bind,ro" if read_only else "bind"
            lines += [f"mkdir -p {q(target)}", f"mount -o {options} {q(str(source))} {q(target)}"]
        lines += [
            f"hostname {q(pod.name)}",
            f"cd {q(spec.get('workingDir', kubelet.IMAGE_WORKDIR if flink else '/'))}",
            f"exec setpriv --reuid={uid} --regid={gid} --groups={','.join(map(str, groups))} "
            "--inh-caps=-all --bounding-set=-all --no-new-privs -- \"$@\"",
        ]
        return "\n".join(lines)

    def _container(self, pod: Pod, spec: dict[str, Any], *, init: bool, link_env: Mapping[str, str]) -> Container:
        pod_security, security = pod.spec.get("securityContext", {}), spec.get("securityContext", {})
        uid = int(security.get("runAsUser", pod_security.get("runAsUser", 0)))
        gid = int(security.get("runAsGroup", pod_security.get("runAsGroup", 0)))
        if (security.get("runAsNonRoot") or pod_security.get("runAsNonRoot")) and uid == 0:
            raise kubelet.PodSpecError(f"{pod.name}/{spec['name']}: runAsNonRoot with uid 0")
        groups = sorted({gid, *([pod_security["fsGroup"]] if "fsGroup" in pod_security else []),
                         *pod_security.get("supplementalGroups", [])})
        if "command" not in spec:
            raise kubelet.PodSpecError(f"{pod.name}/{spec['name']} has no command: it would run the image "
                                       "entrypoint, which this harness does not have")
        env = kubelet.container_env(spec, {"metadata": pod.metadata, "spec": pod.spec}, pod.ip,
                                    secrets=self.secrets, config_maps=self.config_maps, link_env=link_env)
        argv = [kubelet.expand(a, env) for a in [*spec["command"], *spec.get("args", [])]]
        flink = kubelet.image_kind(spec["image"]) == "flink"
        if not flink and not os.path.exists(kubelet.NGINX_BINARY):
            missing("nginx (Debian's nginx-light)")
        # The runtime puts the image's ENV first and the pod's env over it; HOSTNAME is the pod name.
        process_env = {**(kubelet.IMAGE_ENV if flink else kubelet.NGINX_IMAGE_ENV), "HOSTNAME": pod.name, **env}
        setup = self._setup_script(pod, spec, uid, gid, groups)
        log = self.work_dir / pod.name / f"{spec['name']}.log"
        container = Container(pod, spec["name"], spec, init, log, (uid, gid, groups), process_env)
        log.touch()
        # A runtime hands the container a pipe, which its user can reopen as /dev/stdout (nginx's access_log
        # does); a log file owned by that user behaves the same.
        os.chown(log, uid, gid)
        with log.open("ab") as out:  # append: a reopened /dev/stdout must not write over stderr
            container.process = subprocess.Popen(
                ["nsenter", f"--net=/run/netns/{self.network.netns(pod.name)}", "--",
                 "unshare", "--mount", "--uts", "--ipc", "--propagation", "private", "--",
                 "/bin/sh", "-c", setup, spec["name"], *argv],
                env=process_env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        pod.containers.append(container)
        return container

    @staticmethod
    def _run_to_completion(container: Container, timeout: float = 60) -> None:
        assert container.process is not None
        code = container.process.wait(timeout=timeout)
        if code != 0:
            raise RuntimeError(f"init container {container.pod.name}/{container.name} exited {code}:\n"
                               f"{container.logs()}")

    # -- observation ------------------------------------------------------------------------------

    def pods_of(self, deployment: str) -> list[Pod]:
        return [p for p in self.pods if p.deployment == deployment]

    def in_node(self, fn: Callable[[], T], timeout: float = 120) -> T:
        """Run `fn` in the node's network namespace (where the kubelet and the test's clients sit)."""
        return in_netns(self.network.node, fn, timeout)

    def in_pod(self, pod: Pod, fn: Callable[[], T], timeout: float = 120) -> T:
        """Run `fn` in `pod`'s network namespace (its loopback included)."""
        return in_netns(self.network.netns(pod.name), fn, timeout)

    def get(self, pod: Pod, port: int, path: str, timeout: float = 30) -> requests.Response:
        return self.in_node(lambda: requests.get(f"http://{pod.ip}:{port}{path}", timeout=timeout))

    def exec(self, container: Container, argv: Sequence[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """`kubectl exec`: `argv` in the container's namespaces (network, mount, UTS, IPC), working directory
        and env, as its user with no capabilities."""
        return subprocess.run(
            ["nsenter", f"--target={container.pid}", "--net", "--mount", "--uts", "--ipc", "--wd", "--",
             *_setpriv(container), *argv],
            env=container.env, capture_output=True, text=True, timeout=timeout, check=False)

    def debug(self, pod: Pod, argv: Sequence[str], *, timeout: float = 30, stdin: str | None = None,
              env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """`kubectl debug`: an ephemeral container in `pod`'s network namespace with the pod's /etc/hosts (Service
        names resolve as in the pod) on the host's filesystem (where the test's code is). It runs as the
        test's own user, which can read the checkout wherever it lives (a pod's uid 9999 cannot enter a
        0700 clone directory), with no capabilities and no_new_privs; env is `env` and PATH only."""
        hosts = shlex.quote(str(self.work_dir / pod.name / "hosts"))
        return subprocess.run(
            ["nsenter", f"--net=/run/netns/{self.network.netns(pod.name)}", "--",
             "unshare", "--mount", "--propagation", "private", "--",
             "/bin/sh", "-c", f'mount -o bind,ro {hosts} /etc/hosts && exec "$@"', "debug",
             "setpriv", f"--reuid={os.getuid()}", f"--regid={os.getgid()}", "--clear-groups",
             "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--", *argv],
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})}, input=stdin,
            capture_output=True, text=True, timeout=timeout, check=False)

    def probe(self, pod: Pod, container: Container, kind: str) -> bool:
        """One run of a container's probe as the kubelet makes it: exec inside the container, httpGet and
        tcpSocket from the node against the pod IP."""
        probe = container.spec.get(kind)
        if probe is None:
            return True
        timeout = float(probe.get("timeoutSeconds", 1))
        if "exec" in probe:
            try:
                return self.exec(container, probe["exec"]["command"], timeout).returncode == 0
            except subprocess.TimeoutExpired:
                return False
        handler = probe.get("tcpSocket") or probe.get("httpGet")
        assert handler is not None, f"{kind}: only exec, tcpSocket and httpGet probes are supported"
        port = handler["port"]
        port = pod.ports()[port] if isinstance(port, str) else int(port)

        def attempt() -> bool:
            if "tcpSocket" in probe:
                import socket
                try:
                    with socket.create_connection((pod.ip, port), timeout=timeout):
                        return True
                except OSError:
                    return False
            try:
                response = requests.get(f"http://{pod.ip}:{port}{handler.get('path', '/')}", timeout=timeout)
            except requests.RequestException:
                return False
            return 200 <= response.status_code < 400

        return self.in_node(attempt)

    def wait_for(self, what: str, check: Callable[[], bool], timeout: float) -> float:
        """Poll `check` until true; fail with the containers' logs when a container died or time ran out."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            dead = [c for p in self.pods for c in p.containers if not c.init and not c.running()]
            if dead:
                raise RuntimeError(f"{dead[0].pod.name}/{dead[0].name} exited while waiting for {what}:\n"
                                   f"{self.logs()}")
            try:
                if check():
                    return time.monotonic() - started
            except (requests.RequestException, OSError):
                pass
            time.sleep(0.5)
        raise TimeoutError(f"{what} not reached in {timeout:.0f}s:\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"==> {c.pod.name}/{c.name} <==\n{c.logs()}" for p in self.pods for c in p.containers)

