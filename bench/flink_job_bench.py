"""Benchmark of the Flink job provider against one real Flink session cluster; prints JSON.

    venv/bin/python bench/flink_job_bench.py [--version 2.2] [--sizes 256,1024] [--runs 3]

Measures, in one run on one cluster:
- jar upload of a 256 MB and a 1 GB jar: our client (streaming, hashing while it sends) against
  `curl -F jarfile=@…` (and against curl without its `Expect: 100-continue` wait, the stricter
  comparison), as a time ratio; our peak RSS growth, measured in a child process (VmHWM − VmRSS);
- submit-to-all-tasks-RUNNING as the provider sees it (create returns) against the RUNNING times Flink
  records for every subtask (`/jobs/{id}/vertices/{v}/subtasktimes`) and for the job (`/jobs/{id}`);
- a resubmission of an unchanged jar: bytes uploaded (0 expected) and the jar list unchanged.
Targets: upload ≤ 1.1× curl; RSS growth ≤ 64 MB; provider overhead ≤ 0.5 s; 0 bytes on reuse.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from components.flink_config import SessionClusterConfig, parse_version, render_config_files  # noqa: E402
from components.flink_job import FlinkJobProvider  # noqa: E402
from components.flink_rest import FlinkRestClient, file_sha256  # noqa: E402
from tests.harness import CACHE_DIR  # noqa: E402
from tests.harness.flink import FLINK_RELEASES, FlinkCluster  # noqa: E402
from tests.harness.java import COUNTING_JOB, compile_jobs_jar  # noqa: E402

TARGETS = {"upload_ratio_max": 1.1, "rss_growth_mb_max": 64, "provider_overhead_s_max": 0.5, "reuse_bytes": 0}

# Runs in a child process so its peak RSS is the upload's alone.
_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from components.flink_rest import FlinkRestClient
def kib(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])
client = FlinkRestClient(sys.argv[2])
client.overview()  # connection set up and modules warm before the baseline
baseline = kib("VmRSS:")
start = time.perf_counter()
upload = client.upload_jar(sys.argv[3], expected_sha256=sys.argv[4])
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "bytes": upload.bytes_sent, "jar_id": upload.jar_id,
                  "rss_growth_mb": (kib("VmHWM:") - baseline) / 1024}))
"""


def big_jar(size_mb: int) -> Path:
    """A valid jar with `size_mb` MiB of incompressible content (cached)."""
    path = CACHE_DIR / "bench" / f"big-{size_mb}m.jar"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".tmp")
    with zipfile.ZipFile(staging, "w", zipfile.ZIP_STORED, allowZip64=True) as archive, \
            archive.open("payload.bin", "w", force_zip64=True) as payload:
        for _ in range(size_mb):
            payload.write(os.urandom(1 << 20))
    staging.rename(path)
    return path


def curl_upload(url: str, jar: Path, *, no_expect: bool) -> float:
    argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-F", f"jarfile=@{jar}"]
    if no_expect:
        argv += ["-H", "Expect:"]
    start = time.perf_counter()
    result = subprocess.run([*argv, f"{url}/jars/upload"], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.stdout.strip() != "200":
        raise RuntimeError(f"curl upload failed: {result.stdout} {result.stderr}")
    return elapsed


def our_upload(url: str, jar: Path, sha256: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-c", _CHILD, str(REPO), url, str(jar), sha256],
                            capture_output=True, text=True, check=True)
    return dict(json.loads(result.stdout))


def clear_jars(client: FlinkRestClient) -> None:
    for jar in client.list_jars():
        client.delete_jar(str(jar["id"]))


def bench_upload(client: FlinkRestClient, size_mb: int, runs: int) -> dict[str, Any]:
    jar = big_jar(size_mb)
    sha256 = file_sha256(jar)
    curl, curl_no_expect, ours, rss = [], [], [], []
    for _ in range(runs):
        # Interleaved, each on an empty jar store, so page cache and disk state are alike for both.
        clear_jars(client)
        curl.append(curl_upload(client.base_url, jar, no_expect=False))
        clear_jars(client)
        curl_no_expect.append(curl_upload(client.base_url, jar, no_expect=True))
        clear_jars(client)
        result = our_upload(client.base_url, jar, sha256)
        ours.append(result["seconds"])
        rss.append(result["rss_growth_mb"])
    clear_jars(client)
    median = statistics.median
    return {
        "size_mb": size_mb,
        "curl_s": round(median(curl), 3),
        "curl_no_expect_s": round(median(curl_no_expect), 3),
        "ours_s": round(median(ours), 3),
        "ratio_vs_curl": round(median(ours) / median(curl), 3),
        "ratio_vs_curl_no_expect": round(median(ours) / median(curl_no_expect), 3),
        "our_peak_rss_growth_mb": round(max(rss), 1),
        "runs": runs,
    }


def flink_running_times(client: FlinkRestClient, job_id: str) -> tuple[float, float]:
    """(job RUNNING, last subtask RUNNING) as Flink recorded them, in epoch seconds."""
    job = client.session.get(client.url(f"/jobs/{job_id}"), timeout=10).json()
    last_task = 0
    for vertex in job["vertices"]:
        times = client.session.get(client.url(f"/jobs/{job_id}/vertices/{vertex['id']}/subtasktimes"),
                                   timeout=10).json()
        for subtask in times["subtasks"]:
            last_task = max(last_task, int(subtask["timestamps"].get("RUNNING", 0)))
    return job["timestamps"]["RUNNING"] / 1000, last_task / 1000


def bench_submit(url: str, jar: Path, out_dir: Path, runs: int) -> dict[str, Any]:
    provider = FlinkJobProvider()
    sha256 = file_sha256(jar)
    overheads, submit_to_running, job_overheads = [], [], []
    client = FlinkRestClient(url)
    jars_before = reuse_bytes = None
    for run in range(runs):
        props = {"rest_url": url, "jar_path": str(jar), "jar_sha256": sha256, "entry_class": COUNTING_JOB,
                 "args": [str(out_dir / f"run-{run}"), f"run{run}", "4", "5"], "parallelism": 2,
                 "upgrade_mode": "stateless", "job_name": f"bench-{time.time_ns()}",
                 # The health gate's stability window is a deliberate wait, not overhead: measured without it.
                 "job_stable_seconds": 0}
        if run == 1:
            jars_before = [j["id"] for j in client.list_jars()]
            reuse_bytes = client.ensure_jar(jar, sha256).bytes_sent
        submitted = time.time()
        result = provider.create(props)
        returned = time.time()
        job_running, tasks_running = flink_running_times(client, result.id)
        overheads.append(returned - tasks_running)
        job_overheads.append(returned - job_running)
        submit_to_running.append(returned - submitted)
        provider.delete(result.id, result.outs)
    jars_after = [j["id"] for j in client.list_jars()]
    return {
        "submit_to_all_running_s": [round(x, 3) for x in submit_to_running],
        "provider_overhead_vs_last_task_running_s": [round(x, 3) for x in overheads],
        "provider_overhead_vs_job_running_s": [round(x, 3) for x in job_overheads],
        "provider_overhead_max_s": round(max(overheads), 3),
        "reuse_upload_bytes": reuse_bytes,
        "reuse_jar_list_unchanged": jars_before == jars_after,
    }


def parse_options(description: str, default_version: str) -> argparse.Namespace:
    """The upload benchmarks' command line (this one and flink_rest_auth_bench.py); curl must be there."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--version", default=default_version, choices=sorted(FLINK_RELEASES))
    parser.add_argument("--sizes", default="256,1024", help="jar sizes in MiB")
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    if shutil.which("curl") is None:
        sys.exit("curl is not installed (apt-get install curl)")
    return options


def main() -> None:
    options = parse_options(__doc__.splitlines()[0], "2.2")
    files = render_config_files(SessionClusterConfig(
        version=parse_version(FLINK_RELEASES[options.version]), java_version=17,
        jobmanager_address="127.0.0.1", task_slots=2, jobmanager_process_memory="1024m",
        taskmanager_process_memory="1280m", default_parallelism=1,
        # Flink refuses uploads over 100 MiB by default.
        extra={"rest.server.max-content-length": 2147483647},
    ))
    jar = compile_jobs_jar(options.version)
    with tempfile.TemporaryDirectory(prefix="flink-bench-") as work, \
            FlinkCluster(version=options.version, files=files, taskmanagers=1, fast_start=False) as cluster:
        client = FlinkRestClient(cluster.rest_url)
        uploads = [bench_upload(client, int(size), options.runs) for size in options.sizes.split(",")]
        submit = bench_submit(cluster.rest_url, jar, Path(work), options.runs)
        report = {
            "flink_version": client.overview().flink_version,
            "uploads": uploads,
            "submit": submit,
            "targets": TARGETS,
            "meets_targets": {
                "upload_ratio": all(u["ratio_vs_curl"] <= TARGETS["upload_ratio_max"] for u in uploads),
                "rss_growth": all(u["our_peak_rss_growth_mb"] <= TARGETS["rss_growth_mb_max"] for u in uploads),
                "provider_overhead": submit["provider_overhead_max_s"] <= TARGETS["provider_overhead_s_max"],
                "reuse_bytes": submit["reuse_upload_bytes"] == TARGETS["reuse_bytes"]
                and submit["reuse_jar_list_unchanged"],
            },
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
