"""Shared fixtures: each harness module contributes its own."""

pytest_plugins: list[str] = ["tests.harness.postgres", "tests.harness.provider_host", "tests.harness.flink_jobs"]
