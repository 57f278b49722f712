"""A recorder where the pods' Kubernetes API would be: it notes each request's method and path and
answers 403 Forbidden. It answers nothing about Kubernetes (not a fake API server): tests use it to see
which namespace Flink's Kubernetes client addresses.

HTTPS on the node namespace's gateway address, with a self-signed certificate (openssl) whose PEM the
pods get as their ServiceAccount's ca.crt, as a kubelet hands out the cluster CA.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.harness import missing
from tests.harness.netns import GATEWAY, in_netns
from tests.harness.pods import ApiServer


def self_signed(directory: Path, ip: str) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        missing("openssl")
    key, cert = directory / "api.key", directory / "api.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=kubernetes", "-addext", f"subjectAltName=IP:{ip},DNS:kubernetes.default.svc",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    return key, cert


class ApiRecorder:
    """`recorder = ApiRecorder()`; `PodCluster(…, api_server=recorder.api_server).start(recorder.listen)`;
    `recorder.requests` → [(method, path), …]; `recorder.close()`."""

    def __init__(self, port: int = 443) -> None:
        self.port = port
        self.requests: list[tuple[str, str]] = []
        self._dir = Path(tempfile.mkdtemp(prefix="api-recorder-"))
        key, cert = self_signed(self._dir, GATEWAY)
        self.api_server = ApiServer(ip=GATEWAY, port=port, ca_pem=cert.read_bytes())
        self._key, self._cert = key, cert
        self._server: ThreadingHTTPServer | None = None

    def listen(self, node_netns: str) -> None:
        recorded = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                recorded.append((self.command, self.path))
                body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                   "reason": "Forbidden", "code": 403,
                                   "message": "recorded by the flink-hologres test harness"}).encode()
                self.send_response(403)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815 - http.server names

            def log_message(self, *_args: object) -> None:
                return None

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self._cert, self._key)

        def make() -> ThreadingHTTPServer:
            server = ThreadingHTTPServer((GATEWAY, self.port), Handler)  # bound inside the node namespace
            server.socket = context.wrap_socket(server.socket, server_side=True)
            return server

        self._server = in_netns(node_netns, make)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        shutil.rmtree(self._dir, ignore_errors=True)
