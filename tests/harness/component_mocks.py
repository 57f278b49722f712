"""One component under Pulumi's own SDK mocks, one scenario per fresh interpreter.

The Pulumi runtime keeps global state, so a test module runs each scenario as a child process: the
module itself, run as a script with the scenario as JSON (`child_main`). The child calls `install()`,
declares what it wants inside `pulumi.runtime.test`, and returns `as_dict(recording)`: every
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
from pathlib import Path
from typing import Any

import pytest

from tests.harness import REPO_ROOT, alicloud_mocks, sdk_mocks
from tests.harness.sdk_mocks import SECRET, Recording, visible  # noqa: F401 - the tests' names


def redacted(value: Any) -> str:
    """A `visible` tree as JSON with every secret replaced by "[secret]": what shows in plaintext."""
    return json.dumps(json.loads(json.dumps(value), object_hook=lambda d: "[secret]" if set(d) == {SECRET} else d))


# --- the child -------------------------------------------------------------------------------------


def install(*, project: str = "flink-hologres", stack: str = "dev") -> Recording:
    """The one recorder (`sdk_mocks.install`), for a component; once per process."""
    return sdk_mocks.install(project=project, stack=stack)


def as_dict(recording: Recording) -> dict[str, Any]:
    """What the child prints: the registrations in this harness's shape, the component outputs, invokes."""
    resources = [{
        "urn": r["urn"], "type": r["type"], "name": r["name"], "parent": r["parent"], "provider": r["provider"],
        "dependencies": sorted(r["dependencies"]), "retain_on_delete": r["options"]["retainOnDelete"],
        "protect": r["options"]["protect"], "ignore_changes": r["options"]["ignoreChanges"],
        "import_id": r["import_id"], "inputs": r["inputs"],
    } for r in recording.resources]
    return {"resources": resources, "registered_outputs": recording.registered_outputs,
            "calls": recording.calls, "outputs": recording.outputs}


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
