"""The one recorder under Pulumi's own SDK mocks, for the whole program (`program.py`) and single components
(`component_mocks.py`).

`install()` sets the mocks once per process (the Pulumi runtime is process-global) and returns a `Recording`:
every registration as the engine received it (type, name, urn, parent, provider, dependencies, resource
options, inputs both on the wire and deserialized with secrets visible), the outputs components registered,
the invokes and the log. The answers: what Alibaba Cloud would return (`alicloud_mocks`), sentinel
credentials (`secret_mocks`), pulumi-kubernetes' auto-names, and a scenario's own invoke results.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from tests.harness import alicloud_mocks, secret_mocks

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


@dataclass
class Recording:
    # One dict per registration, the root stack included (see `_record`).
    resources: list[dict[str, Any]] = field(default_factory=list)
    registered_outputs: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    logs: list[tuple[str, str]] = field(default_factory=list)
    # Whatever the scenario resolves and stores (component tests).
    outputs: dict[str, Any] = field(default_factory=dict)


def _record(request: Any, response: Any) -> dict[str, Any]:
    from google.protobuf import json_format
    from pulumi.runtime.rpc import deserialize_properties

    return {
        "type": request.type, "name": request.name, "urn": response.urn,
        "parent": request.parent, "provider": request.provider, "custom": request.custom,
        # On the wire (secret markers as Pulumi's signature keys) and deserialized (secrets as {"__secret__": …}).
        "wire_inputs": json_format.MessageToDict(request.object),
        "inputs": visible(deserialize_properties(request.object, keep_internal=True)),
        "dependencies": list(request.dependencies),
        # Input property → the URNs its value came from (what the engine's dependent replacements follow).
        "property_dependencies": {key: list(deps.urns) for key, deps in request.propertyDependencies.items()},
        "outputs": json_format.MessageToDict(response.object),
        "additional_secret_outputs": list(request.additionalSecretOutputs),
        "replacement_trigger": (json_format.MessageToDict(request.replacement_trigger)
                                if request.HasField("replacement_trigger") else None),
        "options": {
            "customTimeouts": dict(json_format.MessageToDict(request.customTimeouts)),
            "replaceOnChanges": list(request.replaceOnChanges),
            "deleteBeforeReplace": request.deleteBeforeReplace,
            "protect": request.protect,
            "ignoreChanges": list(request.ignoreChanges),
            "retainOnDelete": bool(request.retainOnDelete),
        },
        "import_id": request.importId,
    }


def install(*, project: str = "flink-hologres", stack: str = "dev", preview: bool = False,
            invokes: dict[str, Any] | None = None, logger: logging.Logger | None = None) -> Recording:
    """Set Pulumi's mocks with a monitor that records; once per process.

    `invokes`: token → answer, ahead of the Alibaba Cloud mocks; its `__resource_outputs__` entry maps a
    resource type to extra outputs."""
    import pulumi
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.rpc import deserialize_properties

    recording = Recording()
    invoke_results = dict(invokes or {})

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            if preview:
                # A preview of resources that do not exist yet: what the provider computes (ids, names,
                # addresses) is unknown, so only the inputs come back, as the engine does.
                return "", dict(args.inputs)
            if args.typ.startswith("alicloud:"):
                return alicloud_mocks.new_resource(args.typ, args.name, args.inputs)
            if (generated := secret_mocks.new_resource(args.typ, args.name, args.inputs)) is not None:
                return f"{args.name}-id", generated
            state = dict(args.inputs)
            if args.typ.startswith("kubernetes:") and isinstance(state.get("metadata"), dict):
                metadata = dict(state["metadata"])
                # pulumi-kubernetes auto-names objects without a name: logical name + random suffix.
                metadata.setdefault("name", f"{args.name}-mock1234")
                state["metadata"] = metadata
            for key, value in (invoke_results.get("__resource_outputs__", {}).get(args.typ, {})).items():
                state.setdefault(key, value)
            return f"{args.name}-id", state

        def call(self, args: pulumi.runtime.MockCallArgs) -> Any:
            recording.calls.append({"token": args.token, "args": json.loads(json.dumps(visible(args.args),
                                                                                       default=str))})
            if args.token in invoke_results:
                return invoke_results[args.token]
            answer = alicloud_mocks.call(args.token, args.args)
            if answer is None:
                raise AssertionError(f"the program made an invoke the mocks do not know: {args.token}")
            return answer

    class Monitor(MockMonitor):
        """Also records what MockResourceArgs leaves out: parent, dependencies, resource options."""

        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            response = super().RegisterResource(request)
            recording.resources.append(_record(request, response))
            return response

        def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
            recording.registered_outputs.append({
                "urn": request.urn, "outputs": visible(deserialize_properties(request.outputs, keep_internal=True))})
            return super().RegisterResourceOutputs(request)

    if logger is not None:
        class Logs(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                recording.logs.append((record.levelname, record.getMessage()))

        logger.addHandler(Logs())
        logger.setLevel(logging.INFO)

    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, logger=logger,
                             monitor=Monitor(mocks))
    return recording
