"""The authenticating REST proxy for real: Debian's nginx with the rendered nginx.conf in front of a real Flink.

`RestProxyServer` writes the files the proxy Secret would hold (the rendered nginx.conf with only its
paths and ports adapted, a certificate from a throwaway CA (tests/harness/tls.py), the rendered htpasswd
line) and runs the command the sidecar runs, as an unprivileged user like the container.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from components import flink_rest_proxy as proxy
from tests.harness import free_port, missing, tls

UNPRIVILEGED = "nobody"


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found is None:
        missing("nginx (Debian's nginx-light)")
    return found


@dataclass
class RestProxyServer:
    upstream_port: int
    user: str
    password: str
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rest-proxy-")))
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    ca_pem: str = ""

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> RestProxyServer:
        binary = nginx_binary()
        conf_dir, tmp_dir = self.work_dir / "conf", self.work_dir / "tmp"
        conf_dir.mkdir(parents=True, exist_ok=True)
        tmp_dir.mkdir(exist_ok=True)
        self.ca_pem, cert, key = tls.ca_and_server_cert()
        self.port = self.port or free_port()
        data = proxy.secret_data(cert_pem=cert, key_pem=key, user=self.user, password=self.password)
        # The same file, adapted only in where it listens, where Flink is and where its files are.
        data[proxy.CONF_FILE] = proxy.nginx_conf(listen_port=self.port, upstream_port=self.upstream_port,
                                                 conf_dir=str(conf_dir), tmp_dir=str(tmp_dir))
        for name, content in data.items():
            (conf_dir / name).write_text(content)
            (conf_dir / name).chmod(0o444)  # the Secret volume's defaultMode
        command = [binary if part == "nginx" else part for part in proxy.proxy_command(str(conf_dir))]
        if os.geteuid() == 0:  # run as the container does: not root
            shutil.chown(tmp_dir, user=UNPRIVILEGED)
            os.chmod(self.work_dir, 0o755)
            account = pwd.getpwnam(UNPRIVILEGED)
            command = ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups",
                       "--no-new-privs", *command]
        self.log = self.work_dir / "nginx.log"
        self.log.touch()
        if os.geteuid() == 0:
            shutil.chown(self.log, user=UNPRIVILEGED)  # nginx reopens /dev/stdout as its own user
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {self.log.read_text(errors='replace')}") from None
                time.sleep(0.05)

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.work_dir, ignore_errors=True)

    def __enter__(self) -> RestProxyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
