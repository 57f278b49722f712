"""components.hologres_names: the job's connector and the provider resolve hologresTable to one table.

The expected resolutions restate holo-client's TableName.valueOf (aliyun/alibabacloud-hologres-connectors,
holo-client/src/main/java/com/alibaba/hologres/client/model/TableName.java and its TableNameTest.java,
commit f4b79b58e5402ba78168b6284cff00e1369d579b).
"""

from __future__ import annotations

import pytest

from components import hologres_ddl as ddl
from components.hologres_names import InvalidTableName, parse_table_name, quote_table_name, resolve_table_name

# name → (schema, table) as holo-client resolves it; the provider creates exactly this table.
RESOLVED = [
    ("order_details", ("public", "order_details")),
    ("public.order_details", ("public", "order_details")),
    ("ORDERS", ("public", "orders")),  # unquoted: lower-cased
    ("aAa", ("public", "aaa")),
    ("Sales.Orders", ("sales", "orders")),
    ('"aaa"', ("public", "aaa")),
    ('"a aa"', ("public", "a aa")),  # quoted: kept exactly
    ('"a""A"', ("public", 'a"A')),
    ('"a.A"', ("public", "a.A")),
    ("a.B", ("a", "b")),
    ('"A".B', ("A", "b")),
    ('Sales."Order Details"', ("sales", "Order Details")),
    ('"Sales"."Order Details"', ("Sales", "Order Details")),
    ('"orders;drop table x"', ("public", "orders;drop table x")),
    ("日本語", ("public", "日本語")),  # only ASCII A-Z is folded
    ("t1", ("public", "t1")),
    ("_x$y", ("public", "_x$y")),
]
# holo-client throws InvalidIdentifierException for these.
INVALID = ["a aa", "a Aa", 'a"aa', "Order Details", "Sales.Order Details", "a.b.c", "orders;drop table x",
           "order-details", "1orders", "public.1orders", ".orders", "a..b", '"unterminated', '"a"b', '"a".b.c',
           "tab\there"]


@pytest.mark.parametrize(("name", "resolved"), RESOLVED)
def test_names_resolve_as_holo_client_resolves_them(name: str, resolved: tuple[str, str]) -> None:
    assert resolve_table_name(name) == resolved
    assert parse_table_name(name) == resolved
    # The provider builds the table from the same name: both sides name one table.
    assert ddl.DEFAULT_ORDER_DETAILS.with_name(name).qualified_name == ".".join(resolved)


@pytest.mark.parametrize("name", INVALID)
def test_names_holo_client_rejects_are_refused_in_one_line(name: str) -> None:
    with pytest.raises(InvalidTableName):
        resolve_table_name(name)
    with pytest.raises(ValueError) as refused:
        parse_table_name(name)
    assert "\n" not in str(refused.value) and str(refused.value)


@pytest.mark.parametrize(("name", "reason"), [
    ("", "must look like schema.table"), ("public.", "ends with a dot"), ("order\n", "control character"),
    ('public.""', "table name must be a non-empty"), ("public." + "x" * 64, "longer than 63 bytes"),
])
def test_names_the_provider_cannot_create_faithfully_are_refused(name: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_table_name(name)


def test_the_quoted_form_resolves_to_the_same_table() -> None:
    for name, resolved in RESOLVED:
        assert resolve_table_name(quote_table_name(*resolved)) == resolved, name
