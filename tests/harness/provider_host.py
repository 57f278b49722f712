"""Pulumi's own dynamic-provider host, driven over gRPC the way the engine drives it (shared harness).

``python -m pulumi.dynamic`` is the process the Pulumi engine starts for Python dynamic
resources: it prints a port, then serves the ResourceProvider gRPC service, un-pickling the
provider object (dill) from the ``__provider`` property of each request. Driving it, rather than
calling provider methods directly, catches pickling/import problems and the SDK's own handling
of results (e.g. the default ``update`` wiping outputs, ``stables`` being dropped).

Fixture ``provider_host`` (function scope): a started :class:`ProviderHost`, killed at teardown.
Typical use, in the engine's order::

    host.configure({"flink-hologres:hologresUser": "me", "flink-hologres:hologresPassword": "…"})
    news = resource_inputs(MyProvider(), {"size": 3})        # what pulumi.dynamic.Resource sends
    checked = host.check({}, news)                           # CheckResult(inputs, failures)
    id_, outs = host.create(checked.inputs)
    host.diff(id_, outs, news2); host.update(id_, outs, news2); host.read(id_, outs); host.delete(id_, outs)

or ``state = engine_up(host, "name", news)`` / ``engine_up(host, "name", news2, state)`` /
``engine_refresh(host, state)`` / ``engine_destroy(host, state)`` for a whole ``pulumi up`` /
``refresh`` / ``destroy`` of one resource. ``UNKNOWN`` is how the engine sends a value that is
not known yet (preview). A provider error raises :class:`ProviderError`; the host formats the
exception as a traceback, so assert on ``err.last_line``. ``host.output()`` is everything the host
printed (stdout + stderr), e.g. ``pulumi.log`` lines, which fall back to stderr in the host.
"""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from pulumi.dynamic import ResourceProvider
from pulumi.dynamic.dynamic import PROVIDER_KEY, serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tests.harness import REPO_ROOT

PROJECT = "flink-hologres"
UNKNOWN = rpc.UNKNOWN  # the engine's wire sentinel for a value known only after apply
CALL_TIMEOUT = 120.0  # seconds per gRPC call: a provider that hangs fails the test, not the suite


class ProviderError(Exception):
    """A provider call failed; ``details`` is the gRPC details text (the host's traceback)."""

    def __init__(self, method: str, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{method} failed ({code.name}): {details}")
        self.method, self.code, self.details = method, code, details

    @property
    def last_line(self) -> str:
        lines = [line for line in self.details.strip().splitlines() if line.strip()]
        return lines[-1] if lines else ""


@dataclass(frozen=True)
class CheckResult:
    inputs: dict[str, Any]
    failures: list[tuple[str, str]]  # (property, reason)


@dataclass(frozen=True)
class DiffResult:
    changes: str  # "none", "some" or "unknown"
    replaces: list[str]
    delete_before_replace: bool


@dataclass
class ResourceState:
    """One resource as the engine keeps it in the state."""

    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    steps: list[str] = field(default_factory=list)  # the provider calls of the last operation


def resource_inputs(provider: ResourceProvider, props: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs ``pulumi.dynamic.Resource(provider, name, props)`` sends to the engine."""
    if PROVIDER_KEY in props:
        raise ValueError(f"{PROVIDER_KEY} is reserved")
    # The program marks it secret; the host does not accept secrets, so the engine sends it plain.
    return {**props, PROVIDER_KEY: serialize_provider(provider)}


def _struct(props: Mapping[str, Any]) -> Any:
    # A private loop: asyncio.run() would leave the main thread without a current event loop,
    # which breaks later tests that use pulumi.runtime.test (SDK mocks).
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(dict(props), {}))
    finally:
        loop.close()


def _props(struct: Any) -> dict[str, Any]:
    return dict(rpc.deserialize_properties(struct, keep_unknowns=True) or {})


class ProviderHost:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process, self.port, self._log = process, port, log
        self.type_token = "pulumi-python:dynamic:Resource"  # only shows in URNs
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self._stub = provider_pb2_grpc.ResourceProviderStub(self._channel)

    @classmethod
    def start(cls, project: str = PROJECT, env: Mapping[str, str] | None = None,
              timeout: float = 60.0) -> ProviderHost:
        log = Path(tempfile.mkstemp(prefix="provider-host-", suffix=".log")[1])
        environment = {**os.environ, "PULUMI_PROJECT": project, "PYTHONPATH": str(REPO_ROOT),
                       "PYTHONUNBUFFERED": "1", **(env or {})}
        with log.open("wb") as stderr:
            process = subprocess.Popen([sys.executable, "-m", "pulumi.dynamic"], cwd=REPO_ROOT, env=environment,
                                       stdout=subprocess.PIPE, stderr=stderr)
        assert process.stdout is not None
        deadline, line = time.monotonic() + timeout, b""
        while not line.endswith(b"\n"):
            ready, _, _ = select.select([process.stdout], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(process.stdout.fileno(), 1) if ready else b""
            if not chunk:
                process.kill()
                raise RuntimeError(f"the provider host printed no port: {log.read_text(errors='replace')}")
            line += chunk
        # Keep draining stdout (the provider may print) so the host never blocks on a full pipe.
        threading.Thread(target=cls._drain, args=(process, log), daemon=True).start()
        host = cls(process, int(line), log)
        grpc.channel_ready_future(host._channel).result(timeout=timeout)
        return host

    @staticmethod
    def _drain(process: subprocess.Popen[bytes], log: Path) -> None:
        assert process.stdout is not None
        with log.open("ab") as out:
            for chunk in iter(lambda: process.stdout.read1(4096), b""):  # type: ignore[union-attr]
                out.write(chunk)
                out.flush()

    def output(self) -> str:
        return self._log.read_text(errors="replace")

    def stop(self) -> None:
        self._channel.close()
        self.process.kill()
        self.process.wait(timeout=30)
        self._log.unlink(missing_ok=True)

    def urn(self, name: str) -> str:
        return f"urn:pulumi:test::{PROJECT}::{self.type_token}::{name}"

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self._stub, method)(request, timeout=CALL_TIMEOUT)
        except grpc.RpcError as err:
            raise ProviderError(method, err.code(), err.details() or "") from None

    # --- the engine's calls ----------------------------------------------------------------------

    def configure(self, config: Mapping[str, Any], secret_keys: tuple[str, ...] = ()) -> None:
        """Stack config with namespaced keys (``project:key``), as the engine sends it."""
        args = {k: rpc.wrap_rpc_secret(v) if k in secret_keys else v for k, v in config.items()}
        variables = {k: str(v) for k, v in config.items()}
        self._call("Configure", provider_pb2.ConfigureRequest(
            args=_struct(args), variables=variables, acceptSecrets=True, acceptResources=True))

    def check(self, olds: Mapping[str, Any], news: Mapping[str, Any], name: str = "resource") -> CheckResult:
        response = self._call("Check", provider_pb2.CheckRequest(
            urn=self.urn(name), olds=_struct(olds), news=_struct(news), name=name, type=self.type_token))
        return CheckResult(_props(response.inputs), [(f.property, f.reason) for f in response.failures])

    def diff(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any], name: str = "resource",
             old_inputs: Mapping[str, Any] | None = None) -> DiffResult:
        response = self._call("Diff", provider_pb2.DiffRequest(
            id=id_, urn=self.urn(name), olds=_struct(olds), news=_struct(news),
            old_inputs=_struct(old_inputs or {}), name=name, type=self.type_token))
        changes = {provider_pb2.DiffResponse.DIFF_NONE: "none", provider_pb2.DiffResponse.DIFF_SOME: "some"}
        return DiffResult(changes.get(response.changes, "unknown"), list(response.replaces),
                          response.deleteBeforeReplace)

    def create(self, inputs: Mapping[str, Any], name: str = "resource") -> tuple[str, dict[str, Any]]:
        response = self._call("Create", provider_pb2.CreateRequest(
            urn=self.urn(name), properties=_struct(inputs), timeout=CALL_TIMEOUT, name=name, type=self.type_token))
        return response.id, _props(response.properties)

    def read(self, id_: str, props: Mapping[str, Any], inputs: Mapping[str, Any] | None = None,
             name: str = "resource") -> tuple[str, dict[str, Any]]:
        response = self._call("Read", provider_pb2.ReadRequest(
            id=id_, urn=self.urn(name), properties=_struct(props), inputs=_struct(inputs or {}),
            name=name, type=self.type_token))
        return response.id, _props(response.properties)

    def read_full(self, id_: str, props: Mapping[str, Any], inputs: Mapping[str, Any] | None = None,
                  name: str = "resource") -> tuple[str, dict[str, Any], dict[str, Any] | None]:
        """Read, also returning the inputs the provider reported (None when it reported none)."""
        response = self._call("Read", provider_pb2.ReadRequest(
            id=id_, urn=self.urn(name), properties=_struct(props), inputs=_struct(inputs or {}),
            name=name, type=self.type_token))
        refreshed_inputs = _props(response.inputs) if response.HasField("inputs") else None
        return response.id, _props(response.properties), refreshed_inputs

    def update(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any], name: str = "resource",
               old_inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = self._call("Update", provider_pb2.UpdateRequest(
            id=id_, urn=self.urn(name), olds=_struct(olds), news=_struct(news), timeout=CALL_TIMEOUT,
            old_inputs=_struct(old_inputs or {}), name=name, type=self.type_token))
        return _props(response.properties)

    def delete(self, id_: str, props: Mapping[str, Any], name: str = "resource",
               old_inputs: Mapping[str, Any] | None = None) -> None:
        self._call("Delete", provider_pb2.DeleteRequest(
            id=id_, urn=self.urn(name), properties=_struct(props), timeout=CALL_TIMEOUT,
            old_inputs=_struct(old_inputs or {}), name=name, type=self.type_token))


class CheckFailed(Exception):
    def __init__(self, failures: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {r}" for p, r in failures))
        self.failures = failures


def engine_up(host: ProviderHost, name: str, news: Mapping[str, Any],
              state: ResourceState | None = None) -> ResourceState:
    """One resource through ``pulumi up``: Check, then Create, or Diff then Update / replace."""
    checked = host.check(state.inputs if state else {}, news, name)
    if checked.failures:
        raise CheckFailed(checked.failures)
    if state is None:
        id_, outputs = host.create(checked.inputs, name)
        return ResourceState(id_, checked.inputs, outputs, ["check", "create"])
    diff = host.diff(state.id, state.outputs, checked.inputs, name, old_inputs=state.inputs)
    if diff.changes == "none":
        return ResourceState(state.id, checked.inputs, state.outputs, ["check", "diff"])
    if not diff.replaces:
        outputs = host.update(state.id, state.outputs, checked.inputs, name, old_inputs=state.inputs)
        return ResourceState(state.id, checked.inputs, outputs, ["check", "diff", "update"])
    if diff.delete_before_replace:
        host.delete(state.id, state.outputs, name, old_inputs=state.inputs)
        id_, outputs = host.create(checked.inputs, name)
        return ResourceState(id_, checked.inputs, outputs, ["check", "diff", "delete", "create"])
    id_, outputs = host.create(checked.inputs, name)
    host.delete(state.id, state.outputs, name, old_inputs=state.inputs)
    return ResourceState(id_, checked.inputs, outputs, ["check", "diff", "create", "delete"])


def engine_refresh(host: ProviderHost, state: ResourceState, name: str = "resource") -> ResourceState | None:
    """``pulumi refresh``: Read; None when the provider reports the resource gone."""
    id_, outputs = host.read(state.id, state.outputs, state.inputs, name)
    return ResourceState(id_, state.inputs, outputs, ["read"]) if id_ else None


def engine_destroy(host: ProviderHost, state: ResourceState, name: str = "resource") -> None:
    host.delete(state.id, state.outputs, name, old_inputs=state.inputs)


@pytest.fixture
def provider_host() -> Iterator[ProviderHost]:
    host = ProviderHost.start()
    try:
        yield host
    finally:
        host.stop()
