"""Jar upload through the authenticating REST proxy (nginx, TLS, basic auth) against curl on the same path.

    venv/bin/python bench/flink_rest_auth_bench.py [--version 1.20] [--sizes 256,1024] [--runs 3]

One real Flink (REST on loopback) behind Debian's nginx started with the rendered nginx.conf. Per size,
interleaved runs on an empty jar store: our client (pinned CA, basic auth, streaming) and
`curl --cacert … -u … -H 'Expect:' -F jarfile=@…` (no Expect: 100-continue wait), both through the
proxy; plus, for reference, curl straight to Flink. Target: ours ≤ 1.25 × curl through the proxy.
Prints JSON.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.flink_job_bench import big_jar, clear_jars, parse_options  # noqa: E402
from components.flink_config import SessionClusterConfig, parse_version, render_config_files  # noqa: E402
from components.flink_rest import FlinkRestClient, file_sha256  # noqa: E402
from components.flink_rest_proxy import flink_options  # noqa: E402
from tests.harness.flink import FLINK_RELEASES, FlinkCluster  # noqa: E402
from tests.harness.rest_proxy import RestProxyServer  # noqa: E402

TARGET_RATIO = 1.25
USER, PASSWORD = "flink", "bench-password-0123456789abcdef"

# A child process, as the provider host would run the upload (fresh interpreter, warm connection).
_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from components.flink_rest import FlinkRestClient
client = FlinkRestClient(sys.argv[2], ca_pem=open(sys.argv[5]).read(), auth=(sys.argv[6], sys.argv[7]))
client.overview()
start = time.perf_counter()
upload = client.upload_jar(sys.argv[3], expected_sha256=sys.argv[4])
print(json.dumps({"seconds": time.perf_counter() - start, "bytes": upload.bytes_sent}))
"""


def curl(url: str, jar: Path, *extra: str) -> float:
    argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Expect:", *extra, "-F", f"jarfile=@{jar}",
            f"{url}/jars/upload"]
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.stdout.strip() != "200":
        raise RuntimeError(f"curl upload failed: {result.stdout} {result.stderr}")
    return elapsed


def ours(url: str, jar: Path, sha256: str, ca_file: Path) -> float:
    result = subprocess.run([sys.executable, "-c", _CHILD, str(REPO), url, str(jar), sha256, str(ca_file), USER,
                             PASSWORD], capture_output=True, text=True, check=True)
    return float(json.loads(result.stdout)["seconds"])


def bench(client: FlinkRestClient, direct_url: str, gate: RestProxyServer, ca_file: Path, size_mb: int,
          runs: int) -> dict[str, Any]:
    jar = big_jar(size_mb)
    sha256 = file_sha256(jar)
    timings: dict[str, list[float]] = {"curl_proxy": [], "ours_proxy": [], "curl_direct": []}
    for _ in range(runs):
        clear_jars(client)
        timings["curl_proxy"].append(curl(gate.url, jar, "--cacert", str(ca_file), "-u", f"{USER}:{PASSWORD}"))
        clear_jars(client)
        timings["ours_proxy"].append(ours(gate.url, jar, sha256, ca_file))
        clear_jars(client)
        timings["curl_direct"].append(curl(direct_url, jar))
    clear_jars(client)
    median = {k: statistics.median(v) for k, v in timings.items()}
    return {"size_mb": size_mb, **{f"{k}_s": round(v, 3) for k, v in median.items()},
            "ratio_ours_vs_curl_through_proxy": round(median["ours_proxy"] / median["curl_proxy"], 3),
            "proxy_cost_curl": round(median["curl_proxy"] / median["curl_direct"], 3), "runs": runs}


def main() -> None:
    options = parse_options(__doc__.splitlines()[0], "1.20")
    files = render_config_files(SessionClusterConfig(
        version=parse_version(FLINK_RELEASES[options.version]), java_version=17, jobmanager_address="127.0.0.1",
        task_slots=1, jobmanager_process_memory="1024m", taskmanager_process_memory="1280m", default_parallelism=1,
        extra={"rest.server.max-content-length": 2147483647, **flink_options()}))
    with tempfile.TemporaryDirectory(prefix="rest-auth-bench-") as work, \
            FlinkCluster(version=options.version, files=files, taskmanagers=1, fast_start=False) as cluster, \
            RestProxyServer(upstream_port=cluster.rest_port, user=USER, password=PASSWORD) as gate:
        ca_file = Path(work) / "ca.pem"
        ca_file.write_text(gate.ca_pem)
        client = FlinkRestClient(cluster.rest_url)
        uploads = [bench(client, cluster.rest_url, gate, ca_file, int(size), options.runs)
                   for size in options.sizes.split(",")]
    print(json.dumps({"uploads": uploads, "target_ratio_max": TARGET_RATIO,
                      "meets_target": all(u["ratio_ours_vs_curl_through_proxy"] <= TARGET_RATIO for u in uploads)},
                     indent=2))


if __name__ == "__main__":
    main()
