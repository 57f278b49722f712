"""Pure rendering of monitoring: reporter options in the config, bounded log files, and the health verdict's
edge cases (the real answers are covered by test_job_health.py and test_metrics_scrape.py)."""

from __future__ import annotations

from typing import Any

import pytest

from components import flink_config, flink_job_health
from components.flink_job_health import HEALTH, HEALTHY, RestAnswers, drifted, health_outputs, unknown_health


def _config(**kwargs: Any) -> flink_config.SessionClusterConfig:
    return flink_config.SessionClusterConfig(
        version=flink_config.parse_version("1.20.3"), java_version=17, jobmanager_address="flink-jobmanager",
        task_slots=2, jobmanager_process_memory="1600m", taskmanager_process_memory="1728m",
        default_parallelism=2, **kwargs)


def test_the_reporter_is_rendered_only_with_a_port_and_user_options_win() -> None:
    assert not any(key.startswith("metrics.") for key in flink_config.flink_options(_config()))
    options = flink_config.flink_options(_config(metrics_port=9300, extra={"metrics.reporter.prom.port": "9400"}))
    assert options["metrics.reporter.prom.factory.class"] == \
        "org.apache.flink.metrics.prometheus.PrometheusReporterFactory"
    assert options["metrics.reporter.prom.port"] == "9400"  # flinkConfig on top, as for every option
    assert options["metrics.latency.interval"] == 0


def test_log4j_keeps_the_console_and_bounds_the_file() -> None:
    properties = dict(line.split(" = ", 1) for line in flink_config.LOG4J_CONSOLE_PROPERTIES.splitlines()
                      if " = " in line and not line.startswith("#"))
    assert properties["rootLogger.appenderRef.console.ref"] == "ConsoleAppender"  # kubectl logs
    assert properties["appender.console.type"] == "CONSOLE"
    assert properties["rootLogger.appenderRef.rolling.ref"] == "RollingFileAppender"  # the web UI's log view
    assert properties["appender.rolling.policies.size.size"] == "20MB"
    assert properties["appender.rolling.strategy.max"] == "${env:MAX_LOG_FILE_NUMBER:-5}"


def _answers(*, state: str = "RUNNING", uptime_s: float = 60, restarts: int | None = 0,
             checkpoint_age_s: float | None = None, cause: str | None = None) -> RestAnswers:
    now = 1_800_000_000_000
    checkpoints = None
    if checkpoint_age_s is not None:
        checkpoints = {"latest": {"completed": {"latest_ack_timestamp": now - int(checkpoint_age_s * 1000),
                                                "state_size": 265, "checkpointed_size": 200}}}
    return RestAnswers(job={"state": state, "now": now, "start-time": now - int(uptime_s * 1000)},
                       checkpoints=checkpoints, num_restarts=restarts, root_cause=cause)


@pytest.mark.parametrize(("answers", "previous", "verdict"), [
    (_answers(), {}, HEALTHY),
    (_answers(restarts=2, cause="java.lang.X: y"), {"restarts_baseline": 2}, HEALTHY),
    (_answers(restarts=3, cause="java.lang.X: y"), {"restarts_baseline": 2},
     "unhealthy: restarted 1 time(s) since the last pulumi up (last failure: java.lang.X: y)"),
    (_answers(checkpoint_age_s=30), {"max_checkpoint_age_seconds": 60}, HEALTHY),
    (_answers(checkpoint_age_s=90), {"max_checkpoint_age_seconds": 60},
     "unhealthy: last completed checkpoint 90s ago (max 60s)"),
    (_answers(uptime_s=30), {"max_checkpoint_age_seconds": 60}, HEALTHY),  # not due yet
    (_answers(uptime_s=90), {"max_checkpoint_age_seconds": 60,
                             "flink_configuration": {"execution.checkpointing.interval": "10 s"}},
     "unhealthy: no completed checkpoint in 90s of uptime (max 60s)"),
    # A job that does not checkpoint has no checkpoint age to be unhealthy about.
    (_answers(uptime_s=90), {"max_checkpoint_age_seconds": 60}, HEALTHY),
    (_answers(state="RESTARTING", restarts=None), {}, "unhealthy: state RESTARTING"),
])
def test_the_verdict(answers: RestAnswers, previous: dict[str, Any], verdict: str) -> None:
    outputs = health_outputs(answers, previous, reset_baseline=False)
    assert outputs[HEALTH] == verdict
    assert drifted(outputs) == (verdict != HEALTHY)
    assert set(outputs) == set(flink_job_health.HEALTH_KEYS)


def test_up_rebaselines_and_an_unreadable_job_is_unknown_not_drift() -> None:
    outputs = health_outputs(_answers(restarts=3), {"restarts_baseline": 2}, reset_baseline=True)
    assert outputs[HEALTH] == HEALTHY and outputs["restarts_baseline"] == 3
    checkpointed = health_outputs(_answers(checkpoint_age_s=5), {}, reset_baseline=True)
    assert checkpointed["last_checkpoint_size_bytes"] == 265  # the full size, not the increment
    assert checkpointed["last_checkpoint_age_seconds"] == 5
    unknown = unknown_health("connection refused", {"restarts_baseline": 3})
    assert unknown[HEALTH] == "unknown: connection refused" and unknown["restarts_baseline"] == 3
    assert not drifted(unknown)
