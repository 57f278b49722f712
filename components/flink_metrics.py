"""Prometheus metrics of the Flink pods: reporter options, the named port, scrape annotations, PodMonitor.

Pure rendering: no Pulumi and no I/O. flink_config merges `reporter_options` into the rendered
configuration, flink_manifests adds the port and the annotations to both Deployments, and the session
cluster declares `pod_monitor` only when asked (its CRD may not exist in the cluster).

Upstream facts (apache/flink docs/content/docs/deployment/metric_reporters.md at commit
0a311c4bac76219d1936dad3d1d54f850518df9a, and MetricOptions.REPORTER_EXCLUDED_VARIABLES): the reporter
is loaded as a plugin (`plugins/metrics-prometheus`, shipped by the official image and the PyPI
distribution), configured as `metrics.reporter.<name>.factory.class` with
`org.apache.flink.metrics.prometheus.PrometheusReporterFactory`, listens on `port` (default 9249),
exports every Flink scope variable as a label, and drops the labels named in the reporter's
`scope.variables.excludes` (';'-separated, without angle brackets). The same option names hold for
Flink 1.18, 1.20 and 2.2; tests/test_metrics_scrape.py boots each and scrapes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REPORTER_NAME = "prom"
PROMETHEUS_REPORTER_FACTORY = "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
DEFAULT_METRICS_PORT = 9249
METRICS_PORT_NAME = "metrics"
METRICS_PATH = "/metrics"
SCRAPE_INTERVAL = "30s"

# Labels that make series churn without telling an operator anything: a new task attempt id on every
# restart turns each task/operator series into a new one (unbounded over a job's life). Only one attempt
# of a subtask runs at a time, so dropping them never merges two live series. Kept: host, tm_id,
# job_id/job_name, task_name, operator_name, subtask_index — bounded by pods × jobs × operators × parallelism.
EXCLUDED_VARIABLES: tuple[str, ...] = ("task_attempt_id", "task_attempt_num")

# The PodMonitor's API (Prometheus Operator; Alibaba Cloud Managed Service for Prometheus on ACK reads the same CRD).
POD_MONITOR_API_VERSION = "monitoring.coreos.com/v1"
POD_MONITOR_KIND = "PodMonitor"


def reporter_prefix(name: str = REPORTER_NAME) -> str:
    return f"metrics.reporter.{name}."


def reporter_options(port: int) -> dict[str, Any]:
    """Flink options that turn the Prometheus reporter on (JobManager and every TaskManager)."""
    prefix = reporter_prefix()
    return {
        f"{prefix}factory.class": PROMETHEUS_REPORTER_FACTORY,
        # One Flink process per pod: a fixed port, never a range, so the pod's named port is right.
        f"{prefix}port": str(port),
        f"{prefix}scope.variables.excludes": ";".join(EXCLUDED_VARIABLES),
        # Latency tracking exports one histogram per source × operator × subtask: keep it off (the default).
        "metrics.latency.interval": 0,
    }


def container_port(port: int) -> dict[str, Any]:
    """The named container port; no Service refers to it (scrapers reach pods directly)."""
    return {"name": METRICS_PORT_NAME, "containerPort": port, "protocol": "TCP"}


def scrape_annotations(port: int) -> dict[str, str]:
    """The de-facto `prometheus.io/*` pod annotations that stock Prometheus' kubernetes-pods job reads."""
    return {"prometheus.io/scrape": "true", "prometheus.io/port": str(port), "prometheus.io/path": METRICS_PATH}


def pod_monitor(*, name: str, namespace: Any, labels: Mapping[str, str],
                selector: Mapping[str, str]) -> dict[str, Any]:
    """A PodMonitor selecting the JobManager and TaskManager pods on their named metrics port."""
    return {
        "apiVersion": POD_MONITOR_API_VERSION,
        "kind": POD_MONITOR_KIND,
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "selector": {"matchLabels": dict(selector)},
            "podMetricsEndpoints": [{"port": METRICS_PORT_NAME, "path": METRICS_PATH,
                                     "interval": SCRAPE_INTERVAL}],
        },
    }
