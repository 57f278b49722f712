"""What concurrent job submissions in one provider process share: jar uploads and task slots.

The engine runs the steps of one `up` in parallel against one provider process (the dynamic provider
host serves up to 4 calls at once: pulumi/dynamic/__main__.py, `grpc.server(ThreadPoolExecutor(4))`).
Without coordination every job using the same jar uploads its own copy, and each slot check sees the
same free slots, so the last submission fails only at Flink's slot request timeout (5 minutes).
Module state is just locks and counters; importing this module has no side effects.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from components.flink_job_spec import FlinkJobError, JobSpec
from components.flink_rest import FlinkRestClient, JarUpload

POLL_INTERVAL_S = 0.1
# Slots of a job that just ended come back a moment later.
SLOT_GRACE_S = 5.0

_guard = threading.Lock()
_jar_locks: dict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
_slot_locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
# Slots promised to submissions of this process that Flink does not count as used yet.
_reserved: dict[str, int] = defaultdict(int)


def ensure_jar(client: FlinkRestClient, spec: JobSpec) -> JarUpload:
    """One upload per distinct jar per cluster however many jobs of this process need it at once."""
    with _guard:
        lock = _jar_locks[(spec.rest_url, spec.jar_sha256)]
    with lock:
        return client.ensure_jar(spec.jar_path, spec.jar_sha256)


def slots_needed(client: FlinkRestClient, spec: JobSpec) -> int:
    return spec.parallelism or int(client.cluster_option("parallelism.default") or 1)


@contextmanager
def reserve_slots(client: FlinkRestClient, spec: JobSpec, *, credit: int = 0) -> Iterator[int]:
    """Check the free slots and hold them for this submission until the block ends (the job's tasks
    are running, so Flink counts them, or the submission failed). `credit`: slots the job being
    replaced gives back. Fails at once with the numbers when they are not there."""
    needed = slots_needed(client, spec)
    with _guard:
        lock = _slot_locks[spec.rest_url]
    with lock:
        overview = client.overview()
        grace_until = time.monotonic() + SLOT_GRACE_S

        def free() -> int:
            return overview.slots_available + credit - _reserved[spec.rest_url]

        while free() < needed <= overview.slots_total and time.monotonic() < grace_until:
            time.sleep(POLL_INTERVAL_S)
            overview = client.overview()
        if needed > free():
            pending = _reserved[spec.rest_url]
            held = f", {pending} of them held by other jobs being submitted in this run" if pending else ""
            raise FlinkJobError(
                f"job '{spec.job_name}' needs {needed} task slots (parallelism) but the Flink cluster at "
                f"{spec.rest_url} has {max(free(), 0)} free ({overview.slots_total} in total{held}); lower "
                "the parallelism or add TaskManagers/slots")
        _reserved[spec.rest_url] += needed
    try:
        yield needed
    finally:
        with lock:
            _reserved[spec.rest_url] -= needed
