"""What another pod sees of the JobManager's REST API: run in a pod's network namespace with its /etc/hosts
(`PodCluster.debug`), so the Service name resolves as in that pod and the traffic leaves from its network.

`python -m tests.harness.pod_rest_client` reads a JSON request on stdin and prints a JSON answer:
the HTTP status of unauthenticated and wrong-password requests (TLS verified against the pinned CA),
whether Flink's own loopback port answers from here, and a job run by the authenticated client
(components/flink_rest.py, as the FlinkJob provider calls it) until every task is RUNNING, then cancelled.
"""

from __future__ import annotations

import json
import socket
import sys
import tempfile
import time
from typing import Any

import requests

from components.flink_rest import FlinkRestClient

PROBED = (("GET", "/overview"), ("POST", "/jars/upload"), ("POST", "/jars/x/run"))


def _refused(host: str, port: int) -> str:
    try:
        socket.create_connection((host, port), timeout=3).close()
        return "open"
    except ConnectionRefusedError:
        return "refused"
    except OSError as error:
        return f"error: {error}"


def _run_job(client: FlinkRestClient, request: dict[str, Any]) -> dict[str, Any]:
    """Upload and run; a job failed by a late slot offer on a loaded machine is submitted again (3 times)."""
    jar_id = client.upload_jar(request["jar"]).jar_id
    failures: list[str] = []
    for _attempt in range(3):
        job_id = client.run_jar(jar_id, entry_class=request["entry_class"], args=request["args"],
                                parallelism=request["parallelism"])
        deadline = time.monotonic() + 120
        try:
            while time.monotonic() < deadline:
                job = client.job(job_id)
                if job.failing or job.terminal:
                    failures.append(job.state)
                    break
                if job.state == "RUNNING" and all(v.tasks.get("RUNNING", 0) == v.parallelism for v in job.vertices):
                    overview = client.overview()
                    return {"state": job.state, "parallelism": sum(v.parallelism for v in job.vertices),
                            "running_tasks": sum(v.tasks.get("RUNNING", 0) for v in job.vertices),
                            "slots_available": overview.slots_available, "failures": failures}
                time.sleep(0.5)
            else:
                failures.append("timeout: " + client.job(job_id).describe_tasks())
        finally:
            client.cancel(job_id)
    return {"state": None, "failures": failures}


def main() -> None:
    request = json.loads(sys.stdin.read())
    url, user = request["url"], request["user"]
    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as ca_file:
        ca_file.write(request["ca_pem"])
    statuses = {}
    for label, auth in (("anonymous", None), ("wrong password", (user, "not-the-password"))):
        for method, path in PROBED:
            files = {"jarfile": ("x.jar", b"PK\x03\x04", "application/x-java-archive")} if "upload" in path else None
            response = requests.request(method, f"{url}{path}", auth=auth, files=files, verify=ca_file.name,
                                        timeout=10)
            statuses[f"{label} {method} {path}"] = response.status_code
    answer: dict[str, Any] = {"statuses": statuses,
                              "loopback port": _refused(request["jobmanager_ip"], request["loopback_port"])}
    with FlinkRestClient(url, ca_pem=request["ca_pem"], auth=(user, request["password"])) as client:
        answer["taskmanagers"] = client.overview().taskmanagers
        answer["job"] = _run_job(client, request)
    print(json.dumps(answer))


if __name__ == "__main__":
    main()
