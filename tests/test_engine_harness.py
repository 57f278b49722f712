"""The engine-order harness itself, through pulumi's real provider host and a recording provider:
each operation makes the engine's calls in the engine's order and leaves the snapshot as the engine does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.harness.engine import Crash, Engine, Registration
from tests.harness.provider_host import UNKNOWN, ProviderError, ProviderHost, resource_inputs
from tests.harness.recording_provider import RecordingProvider


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "calls.jsonl"


def inputs(log: Path, **props: Any) -> dict[str, Any]:
    return resource_inputs(RecordingProvider(), {"log": str(log), **props})


def calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def methods(log: Path) -> list[str]:
    return [c["method"] for c in calls(log)]


def test_create_update_same_and_destroy_in_engine_order(provider_host: ProviderHost, log: Path) -> None:
    engine = Engine(provider_host)
    created = engine.up("r", inputs(log, value="a"))
    assert engine.last_calls == ["check", "create"] == methods(log)
    assert (created.id, created.outputs["generation"]) == ("id-a", 1)

    same = engine.up("r", inputs(log, value="a"))
    assert engine.last_calls == ["check", "diff"]
    assert same.outputs == created.outputs  # a same step keeps the old outputs

    updated = engine.up("r", inputs(log, value="b"))
    assert engine.last_calls == ["check", "diff", "update"]
    diff = calls(log)[-2]
    # Diff and Update get the old *outputs* as olds.
    assert (diff["old_value"], diff["new_value"], diff["old_generation"]) == ("a", "b", 1)
    assert (updated.id, updated.outputs["generation"]) == ("id-a", 2)

    engine.destroy("r")
    assert engine.last_calls == ["delete"] and engine.state("r") is None


def test_a_failed_update_keeps_the_old_state(provider_host: ProviderHost, log: Path) -> None:
    engine = Engine(provider_host)
    before = engine.up("r", inputs(log, value="a"))
    with pytest.raises(ProviderError, match="update failed on purpose"):
        engine.up("r", inputs(log, value="b", fail="update"))
    assert engine.state("r") == before  # old inputs and outputs, whatever the provider did


def test_replace_is_create_before_delete_unless_asked(provider_host: ProviderHost, log: Path) -> None:
    engine = Engine(provider_host)
    engine.up("r", inputs(log, value="a", key="1", replace_on=["key"]))
    engine.up("r", inputs(log, value="a", key="2", replace_on=["key"]))
    # Re-checked without olds, then the new one is created before the old one is deleted.
    assert engine.last_calls == ["check", "diff", "check", "create", "delete"]
    assert calls(log)[-3]["olds"] == []

    engine.up("r", inputs(log, value="a", key="3", replace_on=["key"], dbr=True))
    assert engine.last_calls == ["check", "diff", "check", "delete", "create"]

    # The resource option wins over the provider's answer; --replace skips the diff.
    engine.up("r", inputs(log, value="a", key="3", replace_on=["key"]), replace=True, delete_before_replace=True)
    assert engine.last_calls == ["check", "delete", "create"]


def test_dependents_of_a_delete_first_replacement_go_first_and_come_back_after(provider_host: ProviderHost,
                                                                               tmp_path: Path) -> None:
    """step_generator.go calculateDependentReplacements: only a dependent whose input *property* comes from
    the replaced resource is asked (with that property unknown); if it says replace, it is deleted before
    the resource and re-created after it without a Diff. A dependsOn-only dependent is not even asked."""
    engine = Engine(provider_host)

    def program(key: str) -> list[Registration]:
        def follower(name: str, **props: Any) -> Registration:
            return Registration(name, lambda snapshot: inputs(tmp_path / f"{name}.jsonl", value=name,
                                                              ref=snapshot["t"].inputs["key"], **props),
                                property_dependencies={"ref": ["t"]})
        return [Registration("t", inputs(tmp_path / "t.jsonl", value="t", key=key, replace_on=["key"], dbr=True)),
                follower("replaced", replace_on=["ref"]), follower("updated"),
                Registration("depends-on-only", inputs(tmp_path / "o.jsonl", value="o"))]

    engine.up_program(program("1"))
    first = len(engine.calls)
    engine.up_program(program("2"))
    assert engine.calls[first:] == [
        ("t", "check"), ("t", "diff"), ("t", "check"),  # the replace, re-checked without olds
        ("replaced", "diff"), ("updated", "diff"),  # asked with `ref` unknown
        ("replaced", "delete"), ("t", "delete"), ("t", "create"),
        ("replaced", "check"), ("replaced", "create"),  # re-created: no Diff
        ("updated", "check"), ("updated", "diff"),  # its own diff: ref is no change to it
        ("depends-on-only", "check"), ("depends-on-only", "diff")]
    asked = [c for c in calls(tmp_path / "replaced.jsonl") if c["method"] == "diff"][-1]
    assert asked["new_value"] == "replaced" and calls(tmp_path / "replaced.jsonl")[-2]["olds"] == []
    assert engine.state("replaced").inputs["ref"] == "2"  # type: ignore[union-attr]


def test_a_crash_between_create_and_delete_leaves_the_old_one_pending(provider_host: ProviderHost,
                                                                       log: Path) -> None:
    engine = Engine(provider_host)
    engine.up("r", inputs(log, value="a", key="1", replace_on=["key"]))
    with pytest.raises(Crash):
        engine.up("r", inputs(log, value="a", key="2", replace_on=["key"]), crash_after="create")
    assert [p.inputs["key"] for p in engine.pending_deletes] == ["1"]
    engine.up("r", inputs(log, value="a", key="2", replace_on=["key"]))
    assert engine.last_calls[0] == "delete" and not engine.pending_deletes


def test_refresh_reads_then_diffs_with_the_old_inputs_as_news(provider_host: ProviderHost, log: Path) -> None:
    engine = Engine(provider_host)
    engine.up("r", inputs(log, value="a", drifted_value="z"))
    refreshed = engine.refresh("r")
    assert engine.last_calls == ["read", "diff"]
    diff = calls(log)[-1]
    # olds = what the provider read now; news = the inputs in the snapshot.
    assert (diff["old_value"], diff["new_value"]) == ("z", "a")
    assert refreshed.drift and refreshed.state is not None and refreshed.state.outputs["value"] == "z"


def test_a_failing_refresh_diff_fails_the_refresh_and_keeps_the_state(provider_host: ProviderHost,
                                                                       log: Path) -> None:
    engine = Engine(provider_host)
    before = engine.up("r", inputs(log, value="a", fail="diff-later"))
    engine.resources["r"].inputs["fail"] = "diff"  # as if the program had said so at the last up
    with pytest.raises(ProviderError, match="diff failed on purpose"):
        engine.refresh("r")
    assert engine.state("r").outputs == before.outputs  # type: ignore[union-attr]


def test_refresh_of_a_vanished_resource_drops_it(provider_host: ProviderHost, log: Path) -> None:
    engine = Engine(provider_host)
    engine.up("r", inputs(log, value="a", gone=True))
    assert engine.refresh("r").state is None and engine.state("r") is None


def test_preview_only_checks_and_diffs(provider_host: ProviderHost, log: Path) -> None:
    engine = Engine(provider_host)
    assert engine.preview("r", inputs(log, value=UNKNOWN)).diff is None
    assert methods(log) == ["check"]
    engine.up("r", inputs(log, value="a"))
    plan = engine.preview("r", inputs(log, value=UNKNOWN))
    assert engine.last_calls == ["check", "diff"] and plan.changes
    assert methods(log)[-2:] == ["check", "diff"]


def test_configure_gets_the_namespaced_stack_config(provider_host: ProviderHost, log: Path) -> None:
    engine = Engine(provider_host, config={"flink-hologres:hologresUser": "me"},
                    secret_keys=("flink-hologres:hologresUser",))
    engine.up("r", inputs(log, value="a"))
    check = calls(log)[0]
    # Secrets arrive decrypted, keys keep their namespace, and the project comes from PULUMI_PROJECT.
    assert check["config"] == {"hologresUser": "me"}
    assert check["project"] == "flink-hologres"


def test_concurrent_creates_share_one_provider_process(provider_host: ProviderHost, log: Path,
                                                       tmp_path: Path) -> None:
    engine = Engine(provider_host)
    results = engine.up_all({f"r{i}": inputs(tmp_path / f"{i}.jsonl", value=str(i)) for i in range(4)})
    assert all(not isinstance(r, BaseException) for r in results.values())
    assert sorted(engine.resources) == ["r0", "r1", "r2", "r3"]
