"""The project's own files agree with the code: every config key the program reads is declared in
Pulumi.yaml (type, description, default) and listed in README; the stack files name only known keys."""

from __future__ import annotations

import re

import yaml

from components import config_commands
from tests.harness import REPO_ROOT

# Object-valued keys: Pulumi's project schema has no object type, so Pulumi.yaml documents them in comments.
OBJECT_KEYS = {"flinkConfig", "jobFlinkConfig", "jobs"}
# Keys the program requires; declared with an empty default so that the program's message (with the
# exact command) comes first, not the CLI's "is missing configuration value" / "must be encrypted".
REQUIRED_KEYS = {"hologresEndpoint", "hologresDatabase", "hologresUser", "hologresPassword"}
# Where the program reads its config.
SETTINGS_MODULES = ("settings.py", "settings_jobs.py", "settings_cloud.py", "settings_hologres.py", "config_reader.py")


def keys_the_program_reads() -> set[str]:
    source = "\n".join((REPO_ROOT / "components" / name).read_text() for name in SETTINGS_MODULES)
    calls = re.findall(r'read\.(?:text|integer|boolean|choice|structured|string_list|secret|required_text)'
                       r'\(\s*"([A-Za-z]+)"', source)
    # Keys named by a declaration both the settings and the providers use (config_commands).
    declared_names = {getattr(config_commands, name) for name in re.findall(r"read\.\w+\(\s*([A-Z_]+)\b", source)}
    looped = re.findall(r'for key in \(\s*"([A-Za-z]+)", "([A-Za-z]+)"\)', source)  # e.g. the CPU keys
    single_job = re.search(r"_SINGLE_JOB_KEYS = \{(.*?)\}", source, re.S)
    assert single_job is not None
    return (set(calls) | declared_names | {key for pair in looped for key in pair}
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
        assert "default" in spec, f"{key} has no default, so the CLI's message would pre-empt the program's"
        # With a default, `secret: true` makes the CLI refuse the (plaintext) default of an unset key.
        assert not spec.get("secret"), key
        if key in REQUIRED_KEYS:
            assert spec["default"] == "" and spec["description"].startswith("Required"), key


def test_stack_files_name_only_known_keys_and_no_plaintext_secrets() -> None:
    known = set(declared()) | OBJECT_KEYS
    for stack in ("dev", "prod"):
        config = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        for key in config:
            namespace, _, name = key.partition(":")
            assert namespace == "flink-hologres" and name in known, key
        assert "flink-hologres:hologresPassword" not in config and "flink-hologres:hologresUser" not in config


def _workflow() -> dict:  # type: ignore[type-arg]
    return dict(yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "preview.yml").read_text()))


def test_the_project_pins_no_backend_so_ci_and_logins_choose_it() -> None:
    # A project's backend.url beats `pulumi login` (pulumi/pulumi pkg/workspace/creds.go): CI would
    # preview an empty local backend instead of the team's state.
    assert "backend" not in yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    readme = (REPO_ROOT / "README.md").read_text()
    quick_start = readme[readme.index("## Quick start"):readme.index("## Secrets and stacks")]
    assert "pulumi login --local &&" in quick_start  # the local backend, chosen in the command itself


def test_the_preview_workflow_reaches_the_shared_state_with_s3_credentials() -> None:
    job = _workflow()["jobs"]["preview"]
    env = job["env"]
    # The environment variable beats any login and Pulumi.yaml; OSS is reached through its S3 API.
    assert env["PULUMI_BACKEND_URL"] == "${{ secrets.PULUMI_BACKEND_URL }}"
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env[key].startswith("${{ secrets."), key
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"
    header = (REPO_ROOT / ".github" / "workflows" / "preview.yml").read_text().split("\nname:")[0]
    for name in re.findall(r"\$\{\{ secrets\.([A-Z_]+) \}\}", yaml.safe_dump(env)):
        assert f"#   {name}" in header, f"secret {name} is used but not documented in the header"
    assert "s3://<bucket>?endpoint=oss-<region>.aliyuncs.com" in header
    assert "oss://" not in yaml.safe_dump(_workflow())
    pulumi_step = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    # No cloud-url: pulumi/actions then runs `pulumi login` without a URL, which takes PULUMI_BACKEND_URL.
    assert "cloud-url" not in pulumi_step["with"]
    assert pulumi_step["with"]["command"] == "preview"


def test_every_command_of_the_workflow_exists_and_matches_readme() -> None:
    job = _workflow()["jobs"]["preview"]
    readme = (REPO_ROOT / "README.md").read_text()
    pulumi_step = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@"))
    stack = pulumi_step["with"]["stack-name"]
    assert (REPO_ROOT / f"Pulumi.{stack}.yaml").exists()
    assert f"pulumi {pulumi_step['with']['command']} --stack {stack}" in readme
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    python_setup = next(s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/setup-python@"))
    assert (REPO_ROOT / python_setup["with"]["cache-dependency-path"]).exists()
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert runs == ["python -m venv venv && venv/bin/pip install -r requirements.txt"]
    # The venv the workflow creates is the one Pulumi.yaml tells the CLI to use.
    assert project["runtime"]["options"]["virtualenv"] == "venv"
    for requirement in re.findall(r"-r (\S+)", runs[0]):
        assert (REPO_ROOT / requirement).exists()
    ci = readme[readme.index("## CI"):]
    assert "PULUMI_BACKEND_URL" in ci and "AWS_ACCESS_KEY_ID" in ci and "endpoint=oss-" in ci
