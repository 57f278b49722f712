"""Linux network namespaces for the pod harness: a bridge inside a private "node" namespace, one
namespace per pod on it, and a way to run Python code (HTTP clients, servers) inside a namespace.

Everything is created under names with a unique prefix and removed by those names; no address or
route touches the host's own network namespace.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tests.harness import missing

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
NETNS_DIR = "/run/netns"
SUBNET = "10.244.0"  # only ever inside the namespaces made here
GATEWAY = f"{SUBNET}.1"


def require_tools() -> None:
    """Root, iproute2 and util-linux: what the pod harness needs (CI has them and runs as root)."""
    if os.geteuid() != 0:
        missing("root (the pod harness makes network and mount namespaces)")
    for tool in ("ip", "unshare", "nsenter", "setpriv", "mount"):
        if shutil.which(tool) is None:
            missing(f"`{tool}` (Debian's iproute2 / util-linux)")


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def in_netns(name: str, fn: Callable[[], T], timeout: float = 120.0) -> T:
    """Run `fn` in a fresh thread that joined network namespace `name` (a socket belongs to the
    namespace of the thread that created it, so servers and clients made there live inside)."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"{NETNS_DIR}/{name}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns into {name}")
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as error:  # handed to the caller
            errors.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"code in network namespace {name} did not finish in {timeout:.0f}s")
    if errors:
        raise errors[0]
    return result[0]


@dataclass
class Network:
    """A bridge in namespace `<prefix>-node` (the node: gateway, probes, clients) and pod namespaces."""

    prefix: str
    pods: dict[str, str] = field(default_factory=dict)  # pod name -> IP
    namespaces: list[str] = field(default_factory=list)

    @property
    def node(self) -> str:
        return f"{self.prefix}-node"

    def _add_netns(self, name: str) -> None:
        _ip("netns", "add", name)
        self.namespaces.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def create(self) -> None:
        self._add_netns(self.node)
        _ip("-n", self.node, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.node, "addr", "add", f"{GATEWAY}/24", "dev", "br0")
        _ip("-n", self.node, "link", "set", "br0", "up")

    def add_pod(self, pod: str) -> str:
        """A namespace for `pod` with eth0 on the bridge; its IP."""
        index = len(self.pods)
        name, ip = self.netns(pod, index), f"{SUBNET}.{10 + index}"
        self._add_netns(name)
        _ip("-n", self.node, "link", "add", f"veth{index}", "type", "veth", "peer", "name", "eth0", "netns", name)
        _ip("-n", self.node, "link", "set", f"veth{index}", "master", "br0", "up")
        _ip("-n", name, "addr", "add", f"{ip}/24", "dev", "eth0")
        _ip("-n", name, "link", "set", "eth0", "up")
        _ip("-n", name, "route", "add", "default", "via", GATEWAY)
        self.pods[pod] = ip
        return ip

    def netns(self, pod: str, index: int | None = None) -> str:
        if index is None:
            index = list(self.pods).index(pod)
        return f"{self.prefix}-p{index}"

    def destroy(self) -> None:
        """Delete every namespace made here, by name (their veth pairs and the bridge go with them)."""
        for name in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False, timeout=30)
        self.namespaces.clear()
