"""What a user sees first for a config mistake, as a `pulumi up` run shows it: the CLI's own validation
(reproduced by the program harness), typos caught by the program, fixes that run as printed, and the
slot check. Program runs go through the Pulumi SDK's mocks; the fix collection loads the settings
module alone, for every place it raises, in one process."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from components import config_reader, settings, settings_cloud, settings_hologres, settings_jobs
from tests.harness.program import cli_config_error, run_program, settings_errors
from tests.test_program_flink import KUBECONFIG, SECRETS

REST = {**KUBECONFIG, "flinkRestUrl": "http://127.0.0.1:18081"}


@pytest.fixture(scope="module")
def jar(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("jars") / "job.jar"
    path.write_bytes(b"not really a jar")
    return str(path)


# --- the CLI speaks first ------------------------------------------------------------------------


@pytest.mark.parametrize(("config", "message"), [
    ({"taskSlots": "two"}, "Stack 'dev' with configuration key 'taskSlots' must be of type 'integer'"),
    ({"deletionProtection": "yes"},
     "Stack 'dev' with configuration key 'deletionProtection' must be of type 'boolean'"),
    ({"vswitchIds": "vsw-1"}, "Stack 'dev' with configuration key 'vswitchIds' must be of type 'array<string>'"),
    ({"uiAllowedCidrs": [1.5]}, "Stack 'dev' with configuration key 'uiAllowedCidrs' must be of type 'array<string>'"),
    # Keys are checked in sorted order, as the CLI does: deletionProtection before taskSlots.
    ({"taskSlots": "two", "deletionProtection": "yes"},
     "Stack 'dev' with configuration key 'deletionProtection' must be of type 'boolean'"),
])
def test_declared_types_are_checked_by_the_cli_before_the_program(config: dict[str, Any], message: str) -> None:
    run = run_program({**KUBECONFIG, **config}, secrets=SECRETS)
    assert (run.error_type, run.error) == ("CliConfigError", message)
    assert run.resources == []


def test_with_skip_config_validation_the_program_still_names_the_key() -> None:
    run = run_program({**KUBECONFIG, "taskSlots": "two"}, secrets=SECRETS, validate_config=False)
    assert run.error == "config 'taskSlots': 'two' is not a whole number. Fix: pulumi config set taskSlots 2"


def test_values_the_cli_accepts_reach_the_program() -> None:
    # "2" is an integer for the CLI (strconv.Atoi), and the program reads it; "True" is no boolean.
    assert cli_config_error("dev", {"taskSlots": "2", "deletionProtection": "false", "vswitchIds": []}, {}) is None
    assert cli_config_error("dev", {"deletionProtection": "True"}, {}) is not None


def test_the_clis_missing_and_secret_messages_word_for_word() -> None:
    project = {"config": {"a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "string"},
                          "s": {"type": "string", "secret": True, "default": ""}}}
    assert cli_config_error("dev", {}, {}, project) == "Stack 'dev' is missing configuration values 'a', 'b' and 'c'"
    assert cli_config_error("dev", {"a": "1", "b": "1"}, {}, project) == \
        "Stack 'dev' is missing configuration value 'c'"
    assert cli_config_error("dev", {"a": "1", "b": "1", "c": "1"}, {}, project) == \
        "Stack 'dev' with configuration key 's' must be encrypted as it's secret"
    assert cli_config_error("dev", {"a": "1", "b": "1", "c": "1"}, {"s": "x"}, project) is None


def test_required_hologres_keys_get_the_programs_message_with_the_command() -> None:
    # Declared with an empty default, so the CLI does not pre-empt the program's exact command.
    run = run_program({**KUBECONFIG, "hologresDatabase": None}, secrets=SECRETS)
    assert run.error_type == "ConfigError"
    assert run.error is not None and run.error.startswith(
        "config 'hologresDatabase': is required. Fix: pulumi config set hologresDatabase  # asks for the value")
    missing = run_program(KUBECONFIG, secrets={"hologresUser": "AKID"})
    assert missing.error == ("config 'hologresPassword': is required and missing. "
                             "Fix: pulumi config set --secret hologresPassword  # asks for the AccessKey secret")


# --- typos ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("config", "message"), [
    ({"taskManager": "3"}, "config 'taskManager': is not a setting of flink-hologres (did you mean taskManagers?). "
                           "Fix: pulumi config rm taskManager && pulumi config set taskManagers 3"),
    ({"jobjar": "build/job.jar"}, "config 'jobjar': is not a setting of flink-hologres (did you mean jobJar?). "
                                  "Fix: pulumi config rm jobjar && pulumi config set jobJar build/job.jar"),
    ({"jobs": [{"name": "a", "jarPath": "a.jar"}]},
     "config 'jobs[0].jarPath': is not a setting of flink-hologres (did you mean jar?). "
     "Fix: pulumi config rm --path 'jobs[0].jarPath' && pulumi config set --path 'jobs[0].jar' a.jar"),
    ({"jobs": [{"name": "a", "parallelsim": 2}]},
     "config 'jobs[0].parallelsim': is not a setting of flink-hologres (did you mean parallelism?). "
     "Fix: pulumi config rm --path 'jobs[0].parallelsim' && pulumi config set --path 'jobs[0].parallelism' 2"),
    ({"zzz": "1"}, "config 'zzz': is not a setting of flink-hologres (Pulumi.yaml lists the keys). "
                   "Fix: pulumi config rm zzz"),
    ({"flinkconfig": {"a.b": "1"}}, "config 'flinkconfig': is not a setting of flink-hologres (did you mean "
                                    "flinkConfig?). Fix: pulumi config rm flinkconfig  # then set flinkConfig"),
])
def test_a_typo_stops_the_program_naming_the_closest_key(config: dict[str, Any], message: str) -> None:
    run = run_program({**REST, **config}, secrets=SECRETS)
    assert (run.error_type, run.error) == ("ConfigError", message)
    assert run.resources == []


def test_a_secret_typo_never_shows_its_value() -> None:
    run = run_program(REST, secrets={**SECRETS, "hologresPasword": "S3NT1NEL-typo"})
    assert run.error is not None and "did you mean hologresPassword?" in run.error
    assert "S3NT1NEL" not in run.error


def test_other_namespaces_and_free_form_flink_options_are_not_typos() -> None:
    run = run_program({**KUBECONFIG, "flinkConfig": {"state.backend.type": "rocksdb", "anything.goes": "1"}},
                      secrets=SECRETS)
    assert run.error is None, run.raw


def test_jobs_together_with_single_job_keys_is_an_error(jar: str) -> None:
    run = run_program({**REST, "jobs": [{"name": "a", "jar": jar}], "jobJar": jar, "jobArgs": ["-v"]},
                      secrets=SECRETS)
    assert run.error == ("config 'jobs': is set together with the single-job keys jobJar, jobArgs, which it "
                         "replaces; move them into the jobs entries. Fix: pulumi config rm jobJar && "
                         "pulumi config rm jobArgs")
    # The declared defaults of the single-job keys (which the CLI hands the program) are no conflict.
    assert run_program({**REST, "jobs": [{"name": "a", "jar": jar}]}, secrets=SECRETS).error is None


# --- slots ---------------------------------------------------------------------------------------


def test_a_job_needing_more_slots_than_the_cluster_has_stops_before_anything_is_declared(jar: str) -> None:
    run = run_program({**REST, "jobJar": jar, "jobParallelism": "5"}, secrets=SECRETS)
    assert run.error == ("config 'jobParallelism': job 'main' needs 5 slots, the cluster has 4 (taskManagers 2 × "
                         "taskSlots 2). Fix: pulumi config set jobParallelism 4  # or raise taskManagers/taskSlots")
    assert run.resources == []
    several = [{"name": "a", "jar": jar, "parallelism": 3}, {"name": "b", "jar": jar, "parallelism": 2}]
    run = run_program({**REST, "jobs": several}, secrets=SECRETS)
    assert run.error == ("config 'jobs': the jobs need 5 slots together, the cluster has 4 (taskManagers 2 × "
                         "taskSlots 2). Fix: pulumi config set taskManagers 3  # or lower the jobs' parallelism")
    assert run.resources == []
    assert run_program({**REST, "jobs": several, "taskManagers": "3"}, secrets=SECRETS).error is None


# --- every fix runs as printed -------------------------------------------------------------------


def _cases(jar: str) -> list[dict[str, Any]]:
    ack, kube = {}, KUBECONFIG
    one = [
        (ack, {"taskManagers": "x"}), (ack, {"taskManagers": "0"}), (ack, {"deletionProtection": "maybe"}),
        (ack, {"target": "gke"}), (ack, {"flinkConfig": "{not json"}), (ack, {"flinkConfig": ["a"]}),
        (ack, {"uiAllowedCidrs": [{"a": 1}]}), (ack, {"hologresDatabase": ""}),
        (ack, {"defaultParallelism": "9"}), (ack, {"jobManagerMemory": "lots"}),
        (ack, {"taskManagerMemory": "900m"}), (ack, {"taskManagerCpu": "fast"}),
        (ack, {"flinkConfig": {"taskmanager.numberOfTaskSlots": 8, "parallelism.default": 2}}),
        (ack, {"restServiceType": "NodePort"}), (ack, {"flinkImage": "Flink:1.20"}),
        (ack, {"flinkImage": "flink:latest"}), (ack, {"hologresEndpoint": "host:99999"}),
        (ack, {"hologresTable": "public."}), (kube, {"jobJar": "build/missing.jar", **REST}),
        (kube, {"jobEntryClass": "not a class"}), (kube, {"jobs": [{"name": "a", "args": "x"}]}),
        (kube, {"jobs": [{"name": "a", "parallelism": "two"}]}),
        (kube, {"jobs": [{"name": "a", "upgradeMode": "last"}]}), (kube, {"savepointDir": "relative/dir"}),
        (kube, {"jobs": [{"name": "a", "allowNonRestoredState": "yes"}]}),
        (kube, {"jobs": [{"name": "a", "flinkConfig": ["x"]}]}), (kube, {"jobs": [{"name": "a"}], "jobJar": jar}),
        (kube, {"jobs": ["a"]}), (kube, {"jobs": [{"name": "a", "jarPath": "x"}]}),
        (kube, {"jobs": [{"name": "A!"}]}), (kube, {"jobs": [{"name": "a"}, {"name": "a"}]}),
        (kube, {"jobJar": jar, "jobParallelism": "5", **REST}),
        (kube, {"jobs": [{"name": "a", "jar": jar, "parallelism": 4}, {"name": "b", "jar": jar}], **REST}),
        (kube, {"taskManager": "3"}), (kube, {"stateStorage": "oss"}), (kube, {"stateStorage": "bucket/flink"}),
        # The job lifecycle (issue 17) and the writer login (issue 12).
        (kube, {"jobs": [{"name": "a", "state": "paused"}]}), (kube, {"jobs": [{"name": "a"}]}),
        (kube, {"jobJar": jar, "jobUpgradeMode": "last-state", **REST}),
        (kube, {"jobJar": jar, "jobUpgradeMode": "last-state", "stateStorage": "s3://b/f",
                "jobCheckpointInterval": "soon", **REST}),
        (kube, {"jobJar": jar, "jobUpgradeMode": "last-state", "stateStorage": "s3://b/f", **REST,
                "jobFlinkConfig": {"execution.checkpointing.externalized-checkpoint-retention":
                                   "DELETE_ON_CANCELLATION"}}),
        (kube, {"jobs": [{"name": "a", "stableSeconds": "x"}]}),
        (kube, {"jobs": [{"name": "a", "requireCheckpoint": "yes"}]}),
        (kube, {"hologresWriterLogin": "bad-name!"}),
        (ack, {"vpcCidr": "x"}), (ack, {"vpcCidr": "fd00::/8"}), (ack, {"vswitchCidr": "x"}),
        (ack, {"vswitchCidr": "10.0.0.0/24"}), (ack, {"vpcId": "vpc-1"}),
        (ack, {"uiAccess": "internet", "uiAllowedCidrs": ["x"]}),
        (ack, {"uiAccess": "internet", "uiAllowedCidrs": ["2001:db8::/32"]}),
        (ack, {"uiAccess": "internet", "uiAllowedCidrs": ["0.0.0.0/0"]}), (ack, {"uiAccess": "internet"}),
        (ack, {"clusterProfile": "Acs", "eciUseSpecs": ["ecs.c6.large"]}), (kube, {"namespace": "Flink_NS"}),
        (kube, {"highAvailability": "kubernetes"}), (kube, {"flinkRestUrl": "ftp://x"}),
        (kube, {"jobJar": jar}),
        (ack, {"hologresEndpoint": "hgpostcn-cn-example-cn-hangzhou-vpc.hologres.aliyuncs.com:80"}),
        (ack, {"hologresNetworkPath": "public"}),
        (ack, {"hologresNetworkPath": "same-vpc",
               "hologresEndpoint": "hgpostcn-cn-abc123def-cn-hangzhou.hologres.aliyuncs.com:80"}),
        (ack, {"hologresSslMode": "verify-ca"}), (ack, {"serviceCidr": "x"}), (ack, {"serviceCidr": "8.8.0.0/16"}),
        (ack, {"serviceCidr": "192.168.0.0/16"}), (ack, {"namePrefix": "1bad"}),
        (kube, {"metricsPort": "6123"}), (kube, {"metricsPort": "0", "podMonitor": "true"}),
    ]
    cases: list[dict[str, Any]] = [{"config": {**base, **extra}, "secrets": SECRETS} for base, extra in one]
    cases.append({"config": KUBECONFIG, "secrets": {"hologresUser": "AKID"}})
    cases.append({"config": {**KUBECONFIG, "hologresPassword": "plain"}, "secrets": {"hologresUser": "AKID"}})
    return cases


def _shell_operators(command: str) -> set[str]:
    """Shell operators outside quotes and comments: a `<placeholder>` would be a redirection."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    return {token for token in lexer if token and set(token) <= set("();<>|&")}


def test_every_fix_the_settings_can_print_is_a_command_that_runs_as_printed(jar: str) -> None:
    answers = settings_errors(_cases(jar))
    missed = [case["config"] for case, answer in zip(_cases(jar), answers, strict=True) if answer is None]
    assert missed == [], "these configs raised nothing"
    # Every place in the settings modules that raises a ConfigError (or builds one through
    # _validated/_cidr/_unknown) was reached: a new one without a case here fails this test.
    sites = set()
    for module in (settings, settings_jobs, settings_cloud, settings_hologres, config_reader):
        source = Path(str(module.__file__)).read_text().splitlines()
        sites |= {f"{Path(str(module.__file__)).name}:{number}" for number, line in enumerate(source, 1)
                  if re.search(r"\b(raise ConfigError\(|_validated\(|_cidr\(|_unknown\()", line)
                  and not line.lstrip().startswith("def ")}
    reached = {line for answer in answers if answer for line in answer["lines"]}
    assert len(sites) > 40
    assert sorted(sites - reached) == [], "lines that raise a ConfigError no case triggers"
    for answer in answers:
        assert answer is not None
        fix = answer["fix"]
        assert answer["message"].endswith(f"Fix: {fix}") and "\n" not in answer["message"]
        checked = subprocess.run(["bash", "-n", "-c", fix], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, f"{fix!r}: {checked.stderr}"
        assert _shell_operators(fix) <= {"&&"}, fix
        # A placeholder is never typed into the command (the CLI asks for the value instead).
        command = fix.split("  # ", 1)[0]
        assert "<" not in command and "example" not in command, fix
        assert fix.startswith(("pulumi config set ", "pulumi config rm ")), fix
        # Paths use Pulumi's syntax, quoted for the shell.
        for key in re.findall(r"--path (\S+)", fix):
            assert key.startswith("'") and re.fullmatch(r"'[A-Za-z]+(\[\d+\]|\[\"[^\"]+\"\]|\.[A-Za-z]+)+'", key), fix
    fixes = " ".join(a["fix"] for a in answers if a)
    assert "--path 'flinkConfig[\"taskmanager.numberOfTaskSlots\"]'" in fixes
    assert "--path 'jobs[0].parallelism'" in fixes


def test_a_job_argument_that_looks_like_a_flag_comes_after_double_dash() -> None:
    from components.config_commands import config_set
    assert config_set("jobArgs[0]", "--rows") == "pulumi config set --path 'jobArgs[0]' -- --rows"
