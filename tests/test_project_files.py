"""The project's own files agree with the code: every config key the program reads is declared in
Pulumi.yaml (type, description, default) and listed in README; the stack files name only known keys."""

from __future__ import annotations

import re

import yaml

from tests.harness import REPO_ROOT

# Object-valued keys: Pulumi's project schema has no object type, so Pulumi.yaml documents them in comments.
OBJECT_KEYS = {"flinkConfig", "jobFlinkConfig", "jobs"}
# Required keys have no default on purpose: the CLI itself then asks for them.
REQUIRED_KEYS = {"hologresEndpoint", "hologresDatabase", "hologresUser", "hologresPassword"}


def keys_the_program_reads() -> set[str]:
    source = (REPO_ROOT / "components" / "settings.py").read_text()
    calls = re.findall(r'read\.(?:text|integer|boolean|choice|structured|string_list|secret|required_text)'
                       r'\(\s*"([A-Za-z]+)"', source)
    looped = re.findall(r'for key in \(\s*"([A-Za-z]+)", "([A-Za-z]+)"\)', source)  # e.g. the CPU keys
    single_job = re.search(r"_SINGLE_JOB_KEYS = \{(.*?)\}", source, re.S)
    assert single_job is not None
    return (set(calls) | {key for pair in looped for key in pair}
            | set(re.findall(r':\s*"([A-Za-z]+)"', single_job.group(1))) | {"kubeconfig"})


def declared() -> dict[str, dict]:  # type: ignore[type-arg]
    return dict(yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())["config"])


def test_every_key_the_program_reads_is_declared_and_documented() -> None:
    read = keys_the_program_reads()
    assert len(read) > 40
    schema = declared()
    project_text = (REPO_ROOT / "Pulumi.yaml").read_text()
    readme = (REPO_ROOT / "README.md").read_text()
    for key in sorted(read):
        if key in OBJECT_KEYS:
            assert f"# {key} (" in project_text, key
        else:
            assert key in schema, f"{key} is read by the program but not declared in Pulumi.yaml"
        assert f"`{key}`" in readme, f"{key} is not in README"
    assert set(schema) - read == set(), "declared in Pulumi.yaml but never read"


def test_every_declared_key_has_type_description_and_default() -> None:
    for key, spec in declared().items():
        assert spec["type"] in ("string", "integer", "boolean", "array"), key
        assert len(spec["description"]) > 10, key
        if spec["type"] == "array":
            assert spec["items"]["type"] == "string", key
        if key in REQUIRED_KEYS:
            assert "default" not in spec, key
        else:
            assert "default" in spec, f"{key} has no default, so the CLI would require it"
    assert declared()["hologresPassword"]["secret"] is True and declared()["hologresUser"]["secret"] is True


def test_stack_files_name_only_known_keys_and_no_plaintext_secrets() -> None:
    known = set(declared()) | OBJECT_KEYS
    for stack in ("dev", "prod"):
        config = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        for key in config:
            namespace, _, name = key.partition(":")
            assert namespace == "flink-hologres" and name in known, key
        assert "flink-hologres:hologresPassword" not in config and "flink-hologres:hologresUser" not in config
