"""Source contracts parse, are self-consistent, and type values as documented."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.lib.contracts import COLUMN_TYPES, LINEAGE_COLUMNS, load_contracts
from pipelines.lib.ingest import _parse_expr

CONTRACTS = load_contracts()


def test_every_source_has_a_contract():
    assert set(CONTRACTS) == {
        "shopify_orders",
        "tmall_orders",
        "tmall_order_items",
        "pos_transactions",
        "loyalty_members",
        "social_events",
        "service_interactions",
        "campaign_spend",
        "products",
        "stores",
        "fx_rates",
        "generic_orders",
    }


@pytest.mark.parametrize("source", sorted(CONTRACTS))
def test_contract_is_consistent(source):
    contract = CONTRACTS[source]
    assert contract.columns and contract.keys
    assert all(c.type in COLUMN_TYPES for c in contract.columns)
    assert all(k in contract.column_names for k in contract.keys)
    schema = contract.raw_schema()
    assert list(schema)[-len(LINEAGE_COLUMNS) :] == list(LINEAGE_COLUMNS)
    aliases = [a.casefold() for c in contract.columns for a in c.headers]
    assert len(aliases) == len(set(aliases)), "a header alias maps to two columns"


def test_dbt_sources_list_every_contract_once_in_its_system():
    """One dbt source per system (shopify, tmall, pos, ...), declared beside its staging
    models; every table reads the raw table of one contract, and names it."""
    import yaml

    from pipelines.settings import DBT_PROJECT_DIR

    tables = {}
    for path in sorted((DBT_PROJECT_DIR / "models" / "staging").glob("*/_*__sources.yml")):
        for source in yaml.safe_load(path.read_text())["sources"]:
            assert path.parent.name == source["name"], path
            for table in source["tables"]:
                identifier = table.get("identifier", table["name"])
                assert identifier not in tables, identifier
                tables[identifier] = (source["schema"], (table.get("meta") or {}).get("contract"))
    for source in CONTRACTS:
        assert tables[source] == ("raw", f"pipelines/contracts/{source}.yml")
    assert not (DBT_PROJECT_DIR / "models" / "staging" / "_raw__sources.yml").exists()


def _parse(source: str, column: str, value: str | None):
    contract = CONTRACTS[source]
    expr = _parse_expr(contract.column(column), "v", contract.timezone)
    con = duckdb.connect()
    return con.execute(f"select {expr} from (select $v::varchar as v)", {"v": value}).fetchone()[0]


@pytest.mark.parametrize(
    ("source", "column", "value", "expected"),
    [
        ("tmall_orders", "buyer_service_fee", "0元", "0.00"),
        ("pos_transactions", "unit_price", "¥1,200.50", "1200.50"),
        ("pos_transactions", "unit_price", " 3.5 ", "3.50"),
        ("pos_transactions", "unit_price", "1.200,50", None),  # ambiguous: not guessed
        ("pos_transactions", "quantity", "2.0", 2),
        ("pos_transactions", "quantity", "2.5", None),
        ("loyalty_members", "marketing_consent", "是", True),
        ("loyalty_members", "marketing_consent", "No", False),
        ("loyalty_members", "marketing_consent", "maybe", None),
        ("shopify_orders", "email", "", None),
        ("shopify_orders", "email", " a@b.c ", " a@b.c "),  # raw keeps text as delivered
        ("tmall_orders", "created_at", "2017/5/30 23:18", "2017-05-30 15:18:00+00:00"),
        ("tmall_orders", "created_at", "2020-02-21 00:00:02", "2020-02-20 16:00:02+00:00"),
        ("shopify_orders", "created_at", "2022-01-11 04:32:30 -0500", "2022-01-11 09:32:30+00:00"),
        ("pos_transactions", "sale_date", "30-10-2016", "2016-10-30"),
        ("pos_transactions", "sale_time", "9:58", "09:58:00"),
    ],
)
def test_values_parse_as_the_contract_says(source, column, value, expected):
    got = _parse(source, column, value)
    assert (str(got) if got is not None and not isinstance(got, bool | int) else got) == expected


def test_dbt_vars_agree_with_contracts():
    """dbt cannot read the contract YAML, so the few contract facts the SQL needs are dbt
    vars; this keeps the two in step."""
    import yaml

    from pipelines.settings import DBT_PROJECT_DIR

    dbt_vars = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    assert dbt_vars["pos_timezone"] == CONTRACTS["pos_transactions"].timezone
    for source, currency in dbt_vars["source_currencies"].items():
        assert CONTRACTS[source].currency == currency, source
    assert {s for s, c in CONTRACTS.items() if c.currency} == set(dbt_vars["source_currencies"])
