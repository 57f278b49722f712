"""Run the Pulumi program (`__main__.py`) under the Pulumi SDK's own mocks, in a fresh process.

Pulumi keeps its runtime in process-global state, so each run is a process of its own
(`python -m tests.harness.program`, forked from a server that imported the SDK once: prefork.py; a
script that calls `run_program` needs an `if __name__ == "__main__":` guard, as multiprocessing requires).
Configuration is layered the way the CLI layers it:
the defaults of `Pulumi.yaml`'s `config:` block, then `Pulumi.<stack>.yaml`, then the test's
overrides; secrets are passed as secret config. Before the program runs, the layered config goes
through the CLI's own validation against `Pulumi.yaml` (`cli_config_error`), so a test sees what a
`pulumi up` user sees first. What comes back is every registered resource
with its inputs exactly as serialized for the engine (secret values stay wrapped in Pulumi's
secret marker, so a test can tell a secret from plaintext), the stack outputs and the log.
"""

from __future__ import annotations

import json
import logging
import os
import re
import runpy
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import rpc

from tests.harness import REPO_ROOT, prefork

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
    # Input property → the URNs its value came from (what the engine's dependent replacements follow).
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    # Output properties the engine stores as secrets whatever the provider returns.
    additional_secret_outputs: list[str] = field(default_factory=list)
    # The `replacement_trigger` resource option: a new value replaces the resource.
    replacement_trigger: Any = None
    # Resource options as the engine receives them: customTimeouts ({create, update, delete} as
    # strings such as "20m"), replaceOnChanges, deleteBeforeReplace, protect, ignoreChanges.
    options: dict[str, Any] = field(default_factory=dict)
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
        # Pulumi.yaml declares them with an empty default (so the program's message comes first).
        merged.update({k: v for k, v in USER_SET.items() if not merged.get(k)})
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


# --- the CLI's config validation ------------------------------------------------------------------
# The Pulumi CLI checks the stack's config against the project's `config:` block before it starts the
# program (`pulumi up`/`preview`/`refresh`/`destroy`, unless --skip-config-validation): pulumi/pulumi
# pkg/workspace/config.go mergeConfig, validateStackConfigValues, validateStackConfigValue and
# sdk/go/common/workspace/project.go ValidateConfigValue / InferFullTypeName, commit
# 1b5949891b3cefcb9974752b24a5ecef0acc86c8. Reproduced here, messages verbatim, in the same order:
# missing values first (all of them, sorted, in one message), then per key in sorted order: a
# `secret: true` key with a plaintext value, then a value not of the declared type.


def _missing_keys_message(stack: str, keys: list[str]) -> str:
    keys = sorted(keys)
    if len(keys) == 1:
        listed = f"'{keys[0]}'"
    else:
        listed = ", ".join(f"'{k}'" for k in keys[:-2])
        listed = (listed + ", " if listed else "") + f"'{keys[-2]}' and '{keys[-1]}'"
    return f"Stack '{stack}' is missing configuration {'values' if len(keys) > 1 else 'value'} {listed}"


def _config_text(value: Any) -> Any:
    """What the CLI validates: objects (lists, maps) as themselves, everything else as its text."""
    if isinstance(value, (list, dict)):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _valid(type_name: str, items: Mapping[str, Any] | None, value: Any) -> bool:
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
            return True
        # strconv.Atoi: an optional sign and decimal digits, within int64.
        return isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value) is not None and \
            -(2 ** 63) <= int(value) < 2 ** 63
    if type_name == "boolean":
        return value in ("true", "false") or isinstance(value, bool)
    if type_name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or items is None:
        return False
    return all(_valid(items["type"], items.get("items"), item) for item in value)


def _full_type_name(type_name: str, items: Mapping[str, Any] | None) -> str:
    return f"array<{_full_type_name(items['type'], items.get('items'))}>" if items else type_name


def cli_config_error(stack: str, plain: Mapping[str, Any], secrets: Mapping[str, Any],
                     project: Mapping[str, Any] | None = None) -> str | None:
    """The CLI's message for this stack config (project keys only, no namespace), or None.
    `project` is the parsed Pulumi.yaml (default: this project's)."""
    project = project or yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    schema: dict[str, Any] = project.get("config") or {}
    values = {**plain, **secrets}
    missing = [key for key, spec in schema.items()
               if key not in values and "default" not in spec and "value" not in spec]
    if missing:
        return _missing_keys_message(stack, missing)
    for key in sorted(schema):
        spec = schema[key]
        if "type" not in spec:
            continue  # only explicitly typed keys are validated
        if spec.get("secret") and key not in secrets:
            return f"Stack '{stack}' with configuration key '{key}' must be encrypted as it's secret"
        value = values[key] if key in values else spec.get("default", spec.get("value"))
        if not _valid(spec["type"], spec.get("items"), _config_text(value)):
            return (f"Stack '{stack}' with configuration key '{key}' must be of type "
                    f"'{_full_type_name(spec['type'], spec.get('items'))}'")
    return None


def run_program(config: Mapping[str, Any] | None = None, *, secrets: Mapping[str, Any] | None = None,
                stack: str = "dev", preview: bool = False, invokes: Mapping[str, Any] | None = None,
                validate_config: bool = True, timeout: float = 120, as_shipped: bool = False) -> ProgramRun:
    """Run __main__.py under mocks; `secrets` are set as secret config (like `config set --secret`).

    With `validate_config` (the CLI's default) a config the CLI refuses never reaches the program: the
    run comes back with the CLI's message as its error (`error_type` "CliConfigError")."""
    secrets = dict(secrets or {})
    plain = stack_config(stack, {k: v for k, v in (config or {}).items()}, as_shipped)
    for key in secrets:
        plain.pop(key, None)
    if validate_config:
        cli_error = cli_config_error(stack, plain, secrets)
        if cli_error is not None:
            return ProgramRun(resources=[], outputs={}, logs=[], error=cli_error, error_type="CliConfigError",
                              raw=cli_error)
    request = {"stack": stack, "preview": preview, "config": plain, "secrets": secrets,
               "invokes": dict(invokes or {})}
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = prefork.run_module("tests.harness.program", input=json.dumps(request), env=env, cwd=REPO_ROOT,
                                timeout=timeout)
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
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    from tests.harness import sdk_mocks

    request = json.loads(sys.stdin.read())
    outputs: dict[str, Any] = {}
    config = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in request["config"].items()}
    config.update({f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in request["secrets"].items()})
    pulumi.runtime.set_all_config(config, [f"{PROJECT}:{k}" for k in request["secrets"]])
    recording = sdk_mocks.install(project=PROJECT, stack=request["stack"], preview=request["preview"],
                                  invokes=request["invokes"], logger=logging.getLogger("program-under-test"))

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
    resources = [_resource(r) for r in recording.resources if r["type"] != "pulumi:pulumi:Stack"]
    print("@@PROGRAM-RUN@@" + json.dumps({"resources": resources, "outputs": outputs, "logs": recording.logs,
                                          "error": error, "error_type": error_type, "calls": recording.calls}),
          flush=True)


def _resource(record: dict[str, Any]) -> dict[str, Any]:
    """One registration of the recorder as a `Resource` (inputs on the wire: secrets keep Pulumi's marker)."""
    options = {k: v for k, v in record["options"].items() if k != "retainOnDelete"}
    return {"type": record["type"], "name": record["name"], "urn": record["urn"], "parent": record["parent"],
            "provider": record["provider"], "custom": record["custom"], "inputs": record["wire_inputs"],
            "dependencies": record["dependencies"], "property_dependencies": record["property_dependencies"],
            "outputs": record["outputs"],
            "additional_secret_outputs": record["additional_secret_outputs"],
            "replacement_trigger": record["replacement_trigger"], "options": options,
            "import_id": record["import_id"], "delete_before_replace": options["deleteBeforeReplace"]}


# --- settings alone, for many configs at once ------------------------------------------------------


def settings_errors(cases: list[dict[str, Any]], timeout: float = 120) -> list[dict[str, Any] | None]:
    """`components.settings.load()` for each case ({"config": …, "secrets": …, "preview": bool}) in one
    fresh process: per case None or the ConfigError's message, fix, and the "file:line"s of the settings
    modules on its stack (where it was raised and through which calls)."""
    requests = []
    for case in cases:
        secrets = dict(case.get("secrets") or {})
        plain = stack_config(case.get("stack", "dev"), case.get("config") or {})
        for key in secrets:
            plain.pop(key, None)
        requests.append({"config": plain, "secrets": secrets, "preview": bool(case.get("preview"))})
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = prefork.run_module("tests.harness.program", "--settings", input=json.dumps(requests), env=env,
                                cwd=REPO_ROOT, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"settings runner failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return list(json.loads(result.stdout.splitlines()[-1]))


def _settings_child() -> None:
    import asyncio
    import traceback

    import pulumi
    from pulumi.runtime import settings as runtime_settings

    from components import config_reader, settings, settings_cloud, settings_hologres, settings_jobs

    # The modules that read the config; frames in them locate where an error was raised.
    modules = {module.__file__: Path(str(module.__file__)).name
               for module in (settings, settings_jobs, settings_cloud, settings_hologres, config_reader)}
    answers: list[dict[str, Any] | None] = []
    for request in json.loads(sys.stdin.read()):
        values = {**request["config"], **request["secrets"]}
        config = {f"{PROJECT}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
        pulumi.runtime.set_all_config(config, [f"{PROJECT}:{k}" for k in request["secrets"]])
        runtime_settings.SETTINGS.dry_run = request["preview"]
        asyncio.set_event_loop(asyncio.new_event_loop())
        try:
            settings.load(stack="dev", keys=list(config))
            answers.append(None)
        except settings.ConfigError as error:
            frames = traceback.extract_tb(error.__traceback__)
            answers.append({"message": str(error), "key": error.key, "fix": error.fix,
                            "lines": [f"{modules[f.filename]}:{f.lineno}" for f in frames if f.filename in modules]})
    print(json.dumps(answers), flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--settings"]:
        _settings_child()
    else:
        _child()
