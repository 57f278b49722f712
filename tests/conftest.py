"""Shared fixtures: each harness module contributes its own."""

pytest_plugins: list[str] = []
