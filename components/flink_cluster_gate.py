"""ClusterReady: `pulumi up` fails while the Flink session cluster is not whole.

Kubernetes calls the pods ready long before the cluster is usable: the JobManager answers with zero
TaskManagers, and a TaskManager's RPC port is open while it cannot register. This dynamic resource
asks Flink itself (GET /overview) until every expected TaskManager has registered with its slots,
and otherwise fails `up` with one line that says how many came and where to look. It needs no job.

In `preview` its inputs may be unknown: check and diff accept them and nothing waits. Its inputs hold
the config checksum and the cluster revision the jobs carry, so a cluster roll (new pods) re-runs the
wait, and, since every job depends on this gate, before any job's update in the same `up`: a job is
never upgraded while its JobManager is being replaced (the Operator's open FLINK-39165). The provider
class is pickled by reference: this module keeps its path and imports without side effects.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from components import flink_rest_access
from components.flink_rest import FlinkRestError
from components.unknowns import is_unknown

DEFAULT_DEADLINE_S = 300.0
POLL_INTERVAL_S = 1.0
REQUEST_TIMEOUT_S = 5.0
INPUT_KEYS = ("rest_url", "namespace", "jobmanager_deployment", "taskmanager_deployment",
              "expected_taskmanagers", "expected_slots", "config_checksum", "cluster_revision", "deadline_seconds",
              *flink_rest_access.ACCESS_KEYS)
OUTPUT_KEYS = ("taskmanagers", "slots_total", "flink_version")


class ClusterNotReady(Exception):
    """The cluster did not become whole in time; the message is one line."""


def validate(props: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(property, reason) for each known input that is wrong; unknown values pass (preview)."""
    failures = []
    url = props.get("rest_url")
    if not is_unknown(url) and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        failures.append(("rest_url", f"'{url}' is not an http(s) URL of the Flink REST API; "
                                     "set flinkRestUrl (e.g. `pulumi config set flinkRestUrl http://host:8081`)"))
    for key in ("expected_taskmanagers", "expected_slots", "deadline_seconds"):
        value = props.get(key)
        if not is_unknown(value) and not (isinstance(value, (int, float)) and value > 0):
            failures.append((key, f"'{value}' is not a positive number"))
    return failures


def _overview(props: Mapping[str, Any]) -> dict[str, Any]:
    # Through the authenticating proxy (pinned CA, basic auth) when the cluster has one.
    with flink_rest_access.client(str(props["rest_url"]), props) as client:
        return dict(client.get_json("/overview", timeout=(REQUEST_TIMEOUT_S, REQUEST_TIMEOUT_S)))


def wait_until_whole(props: Mapping[str, Any], *, sleep: float = POLL_INTERVAL_S) -> dict[str, Any]:
    """Poll /overview until the expected TaskManagers and slots are there; the observed figures."""
    url, namespace = str(props["rest_url"]), str(props["namespace"])
    want_tms, want_slots = int(props["expected_taskmanagers"]), int(props["expected_slots"])
    deadline_s = float(props.get("deadline_seconds") or DEFAULT_DEADLINE_S)
    deadline = time.monotonic() + deadline_s
    last: dict[str, Any] | None = None
    error = ""
    while True:
        try:
            last = _overview(props)
            error = ""
            if int(last.get("taskmanagers", 0)) >= want_tms and int(last.get("slots-total", 0)) >= want_slots:
                return {"taskmanagers": int(last["taskmanagers"]), "slots_total": int(last["slots-total"]),
                        "flink_version": str(last.get("flink-version", ""))}
        except FlinkRestError as exc:
            error = exc.detail
        if time.monotonic() + sleep > deadline:
            break
        time.sleep(sleep)
    if last is None:
        raise ClusterNotReady(
            f"the Flink REST API at {url} did not answer within {deadline_s:.0f}s ({error}); look at "
            f"`kubectl -n {namespace} logs deploy/{props['jobmanager_deployment']}`")
    raise ClusterNotReady(
        f"{last.get('taskmanagers', 0)} of {want_tms} TaskManagers registered "
        f"({last.get('slots-total', 0)} of {want_slots} slots) at {url} after {deadline_s:.0f}s; "
        f"look at `kubectl -n {namespace} logs deploy/{props['taskmanager_deployment']}`")


def _outputs(props: Mapping[str, Any]) -> dict[str, Any]:
    inputs = {key: props.get(key) for key in INPUT_KEYS}
    return {**inputs, **wait_until_whole(inputs)}


class ClusterReadyProvider(dynamic.ResourceProvider):
    """Create and update wait for the whole cluster; read and delete touch nothing."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.CheckResult:
        return dynamic.CheckResult(news, [dynamic.CheckFailure(p, r) for p, r in validate(news)])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        changed = [key for key in INPUT_KEYS if is_unknown(news.get(key)) or olds.get(key) != news.get(key)]
        return dynamic.DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        outputs = _outputs(props)
        return dynamic.CreateResult(f"{props['namespace']}/{props['taskmanager_deployment']}", outputs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        return dynamic.UpdateResult(_outputs(news))

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        return dynamic.ReadResult(id_, props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


@dataclass(frozen=True, kw_only=True)
class ClusterReadyArgs:
    rest_url: pulumi.Input[str]
    namespace: pulumi.Input[str]
    jobmanager_deployment: str
    taskmanager_deployment: str
    expected_taskmanagers: int
    expected_slots: int
    config_checksum: pulumi.Input[str]
    # What the jobs carry as theirs (FlinkSessionCluster.revision): every change that makes the jobs check
    # or resubmit themselves re-runs this wait first, as each job depends on this gate.
    cluster_revision: pulumi.Input[str] | None = None
    deadline_seconds: float = DEFAULT_DEADLINE_S
    # The authenticating REST proxy's pinned CA and basic auth, when the cluster has one.
    rest_ca_pem: pulumi.Input[str] | None = None
    rest_user: pulumi.Input[str] | None = None
    rest_password: pulumi.Input[str] | None = None


class ClusterReady(dynamic.Resource, module="flink", name="ClusterReady"):
    """Registered TaskManagers and slots, as Flink counted them when `up` passed."""

    taskmanagers: pulumi.Output[int]
    slots_total: pulumi.Output[int]
    flink_version: pulumi.Output[str]

    def __init__(self, name: str, args: ClusterReadyArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = {key: getattr(args, key) for key in INPUT_KEYS}
        props.update(flink_rest_access.access_inputs(args.rest_ca_pem, args.rest_user, args.rest_password))
        super().__init__(ClusterReadyProvider(), name, {**props, **dict.fromkeys(OUTPUT_KEYS)}, opts)
