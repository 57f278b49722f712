"""Run the Pulumi program (`__main__.py`) under the Pulumi SDK's own mocks, in a fresh process.

Pulumi keeps its runtime in process-global state, so each run is a subprocess
(`python -m tests.harness.program`). Configuration is layered the way the CLI layers it:
the defaults of `Pulumi.yaml`'s `config:` block, then `Pulumi.<stack>.yaml`, then the test's
overrides; secrets are passed as secret config. What comes back is every registered resource
with its inputs exactly as serialized for the engine (secret values stay wrapped in Pulumi's
secret marker, so a test can tell a secret from plaintext), the stack outputs and the log.
"""

from __future__ import annotations

import json
import logging
import os
import runpy
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from pulumi.runtime import rpc

from tests.harness import REPO_ROOT

PROJECT = "flink-hologres"
# Pulumi's wire markers: a secret is {SECRET_SIG: SECRET_VALUE, "value": …}; UNKNOWN is a preview value.
SECRET_SIG, SECRET_VALUE, UNKNOWN = rpc._special_sig_key, rpc._special_secret_sig, rpc.UNKNOWN


@dataclass
class Resource:
    type: str
    name: str
    urn: str
    parent: str
    provider: str
    custom: bool
    inputs: dict[str, Any]
    dependencies: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    # Output properties the engine stores as secrets whatever the provider returns.
    additional_secret_outputs: list[str] = field(default_factory=list)
    # The `replacement_trigger` resource option: a new value replaces the resource.
    replacement_trigger: Any = None
    import_id: str = ""  # the `import_` resource option: adopt this existing cloud resource
    delete_before_replace: bool = False  # the resource option, as the engine receives it

    def plain(self) -> dict[str, Any]:
        """Inputs with secret markers unwrapped and integral floats back to ints."""
        return unwrap(self.inputs)

    def state(self) -> dict[str, Any]:
        """What the (mock) engine returned: inputs plus generated names, unwrapped."""
        return unwrap(self.outputs)


@dataclass
class ProgramRun:
    resources: list[Resource]
    outputs: dict[str, Any]
    logs: list[tuple[str, str]]
    error: str | None
    error_type: str | None
    raw: str
    # Every invoke the program made: {"token", "args"} (args as the provider receives them).
    calls: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Resource:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def by_name(self, name: str) -> Resource:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
        return found[0]

    def warnings(self) -> list[str]:
        return [message for severity, message in self.logs if severity == "WARNING"]


def unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            return unwrap(value.get("value"))
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def plaintext_occurrences(value: Any, needle: str, path: str = "") -> Iterator[str]:
    """Paths where `needle` appears outside a secret marker."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_VALUE:
            return
        for key, item in value.items():
            if needle in str(key):
                yield f"{path}.{key} (key)"
            yield from plaintext_occurrences(item, needle, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from plaintext_occurrences(item, needle, f"{path}[{index}]")
    elif isinstance(value, str) and needle in value:
        yield path


# What a user sets after following README's quick start: the example stacks ship without them, and the
# program refuses example values (issue 15). `as_shipped=True` runs a stack file exactly as committed.
USER_SET = {"hologresEndpoint": "hgpostcn-cn-abc123def-cn-hangzhou-vpc.hologres.aliyuncs.com:80",
            "hologresDatabase": "flink_demo"}


def stack_config(stack: str, overrides: Mapping[str, Any], as_shipped: bool = False) -> dict[str, Any]:
    """Pulumi.yaml defaults < Pulumi.<stack>.yaml < (USER_SET unless as_shipped) < overrides (None removes)."""
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    merged: dict[str, Any] = {}
    for key, spec in (project.get("config") or {}).items():
        if isinstance(spec, dict) and "default" in spec:
            merged[key] = spec["default"]
    stack_file = REPO_ROOT / f"Pulumi.{stack}.yaml"
    if stack_file.exists():
        for key, value in (yaml.safe_load(stack_file.read_text()).get("config") or {}).items():
            short = key.split(":", 1)[1] if key.startswith(f"{PROJECT}:") else key
            if isinstance(value, dict) and "secure" in value:
                continue  # encrypted with the stack's passphrase; tests pass secrets explicitly
            merged[short] = value
    if not as_shipped:
        merged.update({k: v for k, v in USER_SET.items() if k not in merged})
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def run_program(config: Mapping[str, Any] | None = None, *, secrets: Mapping[str, str] | None = None,
                stack: str = "dev", preview: bool = False, invokes: Mapping[str, Any] | None = None,
                timeout: float = 120, as_shipped: bool = False) -> ProgramRun:
    """Run __main__.py under mocks; `secrets` are set as secret config (like `config set --secret`)."""
    secrets = dict(secrets or {})
    plain = stack_config(stack, {k: v for k, v in (config or {}).items()}, as_shipped)
    for key in secrets:
        plain.pop(key, None)
    request = {"stack": stack, "preview": preview, "config": plain, "secrets": secrets,
               "invokes": dict(invokes or {})}
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run([sys.executable, "-m", "tests.harness.program"], input=json.dumps(request),
                            capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT, env=env, check=False)
    marker = "@@PROGRAM-RUN@@"
    lines = [line for line in result.stdout.splitlines() if line.startswith(marker)]
    if not lines:
        raise RuntimeError(f"program runner failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    data = json.loads(lines[-1][len(marker):])
    return ProgramRun(
        resources=[Resource(**r) for r in data["resources"]],
        outputs=data["outputs"],
        logs=[tuple(entry) for entry in data["logs"]],  # type: ignore[misc]
        error=data["error"],
        error_type=data["error_type"],
        calls=data.get("calls", []),
        # What the program printed besides the result (kept short: it lands in assertion messages).
        raw=(result.stderr[-3000:] + "\n" + "\n".join(
            line for line in result.stdout.splitlines() if not line.startswith(marker))[-3000:]).strip(),
    )


# --- the subprocess side -------------------------------------------------------------------------


def _child() -> None:
    import pulumi
    from google.protobuf import json_format
    from pulumi.runtime import mocks
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    request = json.loads(sys.stdin.read())
    resources: list[dict[str, Any]] = []
    outputs: dict[str, Any] = {}
    logs: list[tuple[str, str]] = []
    calls: list[dict[str, Any]] = []
    invoke_results: dict[str, Any] = request["invokes"]

    class Recorder(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logs.append((record.levelname, record.getMessage()))

    logger = logging.getLogger("program-under-test")
    logger.addHandler(Recorder())
    logger.setLevel(logging.INFO)

    class Monitor(mocks.MockMonitor):
        def RegisterResource(self, req: Any) -> Any:  # noqa: N802 - gRPC method name
            response = super().RegisterResource(req)
            if req.type != "pulumi:pulumi:Stack":
                resources.append({
                    "type": req.type, "name": req.name,
                    "urn": self.make_urn(req.parent, req.type, req.name),
                    "parent": req.parent, "provider": req.provider, "custom": req.custom,
                    "inputs": json_format.MessageToDict(req.object),
                    "dependencies": list(req.dependencies),
                    "outputs": json_format.MessageToDict(response.object),
                    "additional_secret_outputs": list(req.additionalSecretOutputs),
                    "replacement_trigger": (json_format.MessageToDict(req.replacement_trigger)
                                            if req.HasField("replacement_trigger") else None),
                    "import_id": req.importId,
                    "delete_before_replace": req.deleteBeforeReplace,
                })
            return response

    from tests.harness import alicloud_mocks, secret_mocks

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            if request["preview"]:
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
            calls.append({"token": args.token, "args": json.loads(json.dumps(args.args, default=str))})
            if args.token in invoke_results:
                return invoke_results[args.token]
            answer = alicloud_mocks.call(args.token, args.args)
            if answer is None:
                raise AssertionError(f"the program made an invoke the mocks do not know: {args.token}")
            return answer

    config = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in request["config"].items()}
    config.update({f"{PROJECT}:{k}": v for k, v in request["secrets"].items()})
    pulumi.runtime.set_all_config(config, [f"{PROJECT}:{k}" for k in request["secrets"]])
    mocks.set_mocks(Mocks(), project=PROJECT, stack=request["stack"], preview=request["preview"],
                    logger=logger, monitor=Monitor(Mocks()))

    error: str | None = None
    error_type: str | None = None
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(REPO_ROOT / "__main__.py"), run_name="__main__")))
        # The mock root stack never registers its outputs: resolve the exports ourselves, keeping
        # their secretness the way the engine would store them.
        from pulumi.runtime.settings import get_root_resource
        for name, value in get_root_resource().outputs.items():  # type: ignore[union-attr]
            output = pulumi.Output.from_input(value)
            resolved = _sync_await(output.future())
            outputs[name] = ({SECRET_SIG: SECRET_VALUE, "value": resolved}
                             if _sync_await(output.is_secret()) else resolved)
    except Exception as exc:  # the test decides what an error means
        error, error_type = str(exc), type(exc).__name__
    print("@@PROGRAM-RUN@@" + json.dumps({"resources": resources, "outputs": outputs, "logs": logs,
                                          "error": error, "error_type": error_type, "calls": calls}), flush=True)


if __name__ == "__main__":
    _child()
