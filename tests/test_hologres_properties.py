"""components.hologres_properties: values as the Hologres catalog writes them, per-column comparison,
and the CREATE TABLE rules checked before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest

from components import hologres_properties as props


@pytest.mark.parametrize(("key", "text", "parsed"), [
    ("orientation", "column,row", "row,column"), ("orientation", " Column ", "column"),
    ("clustering_key", "sale_timestamp:asc", ["sale_timestamp:asc"]),
    ("bitmap_columns", 'province,"Channel"', ["province", "Channel"]),
    ("dictionary_encoding_columns", "city:auto, ip:ON", ["city:auto", "ip:on"]),
    ("time_to_live_in_seconds", "3153600000", 3153600000), ("binlog.level", "Replica", "replica"),
])
def test_catalog_values_are_read_as_hologres_writes_them(key: str, text: str, parsed: Any) -> None:
    assert props.parse_catalog_property(key, text) == parsed


@pytest.mark.parametrize(("key", "text"), [
    ("orientation", "columnar"), ("time_to_live_in_seconds", "forever"), ("clustering_key", "a:sideways"),
    ("bitmap_columns", 'a"b'), ("binlog.level", "full"),
])
def test_a_value_the_program_cannot_read_is_unexplained(key: str, text: str) -> None:
    with pytest.raises(props.Unexplained):
        props.parse_catalog_property(key, text)


def test_only_declared_columns_are_compared_and_changed_one_by_one() -> None:
    live = ["user_name", "province", "city"]  # Hologres' defaults: every TEXT column
    assert props.declared_difference("bitmap_columns", live, ["province"]) is None
    assert props.declared_difference("bitmap_columns", live, ["province", "city:off"]) == ["city:off"]
    assert props.declared_difference("bitmap_columns", live, ["user_id"]) == ["user_id:on"]
    assert props.declared_difference("dictionary_encoding_columns", ["city:auto"], ["city:auto"]) is None
    assert props.declared_difference("clustering_key", ["ts:asc"], ["ts"]) is None
    assert props.declared_difference("clustering_key", ["ts:asc"], ["ts:desc"]) == ["ts:desc"]


def test_a_column_left_out_goes_back_to_hologres_default() -> None:
    types = {"user_id": "bigint", "city": "text"}
    assert props.with_undeclared("bitmap_columns", [], ["user_id", "city:off"], types, None) == [
        "user_id:off", "city:on"]
    assert props.with_undeclared("dictionary_encoding_columns", None, ["city:on"], types, "column") == ["city:auto"]
    assert props.with_undeclared("bitmap_columns", None, ["city"], types, "row") == ["city:off"]
    assert props.with_undeclared("bitmap_columns", ["city"], ["city"], types, None) == ["city"]


@pytest.mark.parametrize(("declared", "nullable", "pk", "path"), [
    ({"orientation": "row"}, {}, [], "properties.orientation"),
    ({"orientation": "row", "bitmap_columns": ["city"]}, {}, ["id"], "properties.bitmap_columns"),
    ({"clustering_key": ["city"]}, {"city": True}, ["id"], "properties.clustering_key"),
    ({"clustering_key": ["score"]}, {"score": False}, ["id"], "properties.clustering_key"),
    ({"event_time_column": ["city"]}, {"city": True}, ["id"], "properties.event_time_column"),
    ({"distribution_key": ["city"]}, {}, ["id"], "properties.distribution_key"),
    ({"binlog.level": "replica"}, {}, [], "properties.binlog.level"),
])
def test_create_table_rules(declared: dict[str, Any], nullable: dict[str, bool], pk: list[str], path: str) -> None:
    columns = {"id": "bigint", "city": "text", "score": "double precision"}
    assert [p for p, _ in props.rule_problems(declared, columns, nullable, pk)] == [path]


def test_rules_pass_for_the_tutorial_table() -> None:
    declared = {"orientation": "row,column", "event_time_column": ["ts"], "clustering_key": ["ts"],
                "bitmap_columns": ["city"], "binlog.level": "replica", "distribution_key": ["id"]}
    assert props.rule_problems(declared, {"id": "bigint", "ts": "timestamp with time zone", "city": "text"},
                               {"id": False, "ts": False, "city": True}, ["id"]) == []
