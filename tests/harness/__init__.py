"""Test harness: real services (Flink, PostgreSQL, pulumi's provider host) and the SDK mocks.

Under CI=true a missing service is a failure, never a skip.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import NoReturn

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = Path(os.environ.get("FLINK_HOLOGRES_CACHE", REPO_ROOT / ".cache"))


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str) -> NoReturn:
    """A service or tool a test needs is not available: fail in CI, skip elsewhere."""
    message = f"{what} is not available (run .ci/run to install it)"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
