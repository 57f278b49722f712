"""One component under Pulumi's own SDK mocks, one scenario per fresh interpreter.

The Pulumi runtime keeps global state, so a test module runs each scenario as a child process: the
module itself, run as a script with the scenario as JSON (`child_main`). The child calls `install()`,
declares what it wants inside `pulumi.runtime.test`, and returns `Recording.as_dict()`: every
registered resource (type, name, parent, provider, dependencies, resource options, inputs with secret
markers kept visible as `{"__secret__": value}`), the outputs components registered, the invokes the
mocks answered, and whatever resolved outputs the child stored. The parent (`run_scenarios`) starts all
scenarios at once and hands back one `Graph` per scenario.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.harness import REPO_ROOT, alicloud_mocks

SECRET = "__secret__"


def visible(value: Any) -> Any:
    """A deserialized property value as JSON, a secret shown as {"__secret__": value}."""
    from pulumi.runtime.rpc import _special_secret_sig, _special_sig_key

    if isinstance(value, dict):
        if value.get(_special_sig_key) == _special_secret_sig:
            return {SECRET: visible(value["value"])}
        return {k: visible(v) for k, v in value.items()}
    if isinstance(value, list):
        return [visible(v) for v in value]
    return value


def redacted(value: Any) -> str:
    """A `visible` tree as JSON with every secret replaced by "[secret]": what shows in plaintext."""
    return json.dumps(json.loads(json.dumps(value), object_hook=lambda d: "[secret]" if set(d) == {SECRET} else d))


# --- the child -------------------------------------------------------------------------------------


@dataclass
class Recording:
    resources: list[dict[str, Any]] = field(default_factory=list)
    registered_outputs: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"resources": self.resources, "registered_outputs": self.registered_outputs,
                "calls": self.calls, "outputs": self.outputs}


def install(*, project: str = "flink-hologres", stack: str = "dev") -> Recording:
    """Set Pulumi's mocks (answers from `alicloud_mocks`) with a monitor that records; once per process."""
    import pulumi
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.rpc import deserialize_properties

    recording = Recording()

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            return alicloud_mocks.new_resource(args.typ, args.name, args.inputs)

        def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
            recording.calls.append({"token": args.token, "args": visible(args.args)})
            answer = alicloud_mocks.call(args.token, args.args)
            if answer is None:
                raise AssertionError(f"unexpected invoke {args.token}")
            return answer

    class Monitor(MockMonitor):
        """Also records what MockResourceArgs leaves out: parent, dependencies, resource options."""

        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            response = super().RegisterResource(request)
            recording.resources.append({
                "urn": response.urn, "type": request.type, "name": request.name, "parent": request.parent,
                "provider": request.provider, "dependencies": sorted(request.dependencies),
                "retain_on_delete": bool(request.retainOnDelete), "protect": bool(request.protect),
                "ignore_changes": list(request.ignoreChanges), "import_id": request.importId,
                "inputs": visible(deserialize_properties(request.object, keep_internal=True)),
            })
            return response

        def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            recording.registered_outputs.append({
                "urn": request.urn, "outputs": visible(deserialize_properties(request.outputs, keep_internal=True))})
            return super().RegisterResourceOutputs(request)

    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=Monitor(mocks))
    return recording


async def resolve(component: Any, attrs: Iterable[str]) -> dict[str, Any]:
    """The component's outputs as {"value", "secret"} (None for an attribute that is None)."""
    resolved: dict[str, Any] = {}
    for attr in attrs:
        output = getattr(component, attr)
        resolved[attr] = None if output is None else {
            "value": await output.future(), "secret": await output.is_secret()}
    return resolved


def child_main(run: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """The child's entry point: the scenario from argv, the recording as the last line of stdout."""
    print(json.dumps(run(json.loads(sys.argv[1]))))


# --- the parent ------------------------------------------------------------------------------------


class Graph:
    """One scenario's recording, with lookups."""

    def __init__(self, run: Mapping[str, Any]) -> None:
        self.resources: list[dict[str, Any]] = run["resources"]
        self.registered_outputs: list[dict[str, Any]] = run["registered_outputs"]
        self.calls: list[dict[str, Any]] = run["calls"]
        self.outputs: dict[str, Any] = run["outputs"]

    def all(self, type_: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == type_]

    def one(self, type_: str) -> dict[str, Any]:
        found = self.all(type_)
        assert len(found) == 1, f"expected one {type_}, got {[r['name'] for r in found]}"
        return found[0]

    def value(self, attr: str) -> Any:
        return self.outputs[attr]["value"]

    def mock_id(self, type_: str) -> str:
        return alicloud_mocks.resource_id(type_, self.one(type_)["name"], self.one(type_)["inputs"])

    def children_of(self, type_: str, *, besides: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Every resource except the stack, the component of `type_` and the types in `besides`."""
        skip = {"pulumi:pulumi:Stack", type_, *besides}
        return [r for r in self.resources if r["type"] not in skip]


def run_scenarios(script: str | Path, scenarios: Mapping[str, Any], timeout: float = 120) -> dict[str, Graph]:
    """Run `script` once per scenario, all at once, each in its own interpreter."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    processes = {
        name: subprocess.Popen([sys.executable, str(script), json.dumps(args)], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, args in scenarios.items()
    }
    graphs = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=timeout)
        assert process.returncode == 0, f"scenario {name} failed:\n{stderr}"
        graphs[name] = Graph(json.loads(stdout.strip().splitlines()[-1]))
    return graphs


def scenario_fixtures(script: str | Path, scenarios: Mapping[str, Any]) -> tuple[Any, Any]:
    """Module fixtures `runs` (every scenario, run once) and `graph` (parametrized over the scenarios).

    In a test module: `runs, graph = component_mocks.scenario_fixtures(__file__, SCENARIOS)`.
    """

    @pytest.fixture(scope="module")
    def runs() -> dict[str, Graph]:
        return run_scenarios(script, scenarios)

    @pytest.fixture(params=list(scenarios))
    def graph(request: pytest.FixtureRequest, runs: dict[str, Graph]) -> Graph:
        return runs[request.param]

    return runs, graph
