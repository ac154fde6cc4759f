"""The suites in expectations/ are well-formed and name real columns; the GE wrapper
reports failing expectations with the rows that fail them."""

import datetime as dt
import re

import duckdb
import pytest

from pipelines.lib import quality
from pipelines.lib.contracts import LINEAGE_COLUMNS, get_contract, load_contracts
from pipelines.lib.exports import GATED_OUTPUTS
from pipelines.lib.ingest import ensure_raw_tables


def test_every_source_and_every_gated_output_has_a_suite():
    suites = {s.asset_key for s in quality.load_suites()}
    assert {("raw", name) for name in load_contracts()} <= suites
    assert {(name,) for name in GATED_OUTPUTS} <= suites


def test_raw_suites_name_contract_columns_only():
    contracts = load_contracts()
    for suite in quality.load_suites():
        if suite.batch != "newest_delivery":
            continue
        known = set(contracts[suite.source].column_names) | set(LINEAGE_COLUMNS)
        assert set(suite.columns()) <= known, suite.name


def test_thresholds_name_known_sources():
    sources = set(load_contracts())
    thresholds = quality.load_thresholds()
    assert set(thresholds["row_count"]["per_source"]) <= sources
    assert set(thresholds["freshness"]["per_source"]) <= sources


def test_parameters_used_by_suites_are_defined():
    per_run = {
        "min_rows",
        "max_rows",
        "latest_allowed_date",
        "latest_allowed_timestamp",
        "placeholder_email_patterns",
        "min_real_email_share",
        "min_unrefunded_share",
        "min_mart_rows",
    }
    static = set(quality.load_thresholds()["parameters"])
    for suite in quality.load_suites():
        used = set(re.findall(r"'\$PARAMETER': '(\w+)'", str(suite.expectations)))
        assert used <= per_run | static, (suite.name, used - per_run - static)


@pytest.mark.parametrize(
    ("email", "placeholder"),
    [
        ("noemail@example.com", True),
        ("NoEmail@Example.com", True),
        ("no@shop.cn", True),
        ("nono@shop.cn", False),
        ("anna@shop.cn", False),
        ("none@none.com", True),
    ],
)
def test_blocklist_patterns_match_placeholders_only(email, placeholder):
    patterns = quality.placeholder_email_patterns()
    assert any(re.search(p, email) for p in patterns) is placeholder


def test_like_to_regex_escapes_everything_but_wildcards():
    assert re.search(quality.like_to_regex("a.b_%"), "a.bc-tail")
    assert not re.search(quality.like_to_regex("a.b_%"), "axbc")


def _member_list(rows: list[tuple]) -> duckdb.DuckDBPyConnection:
    """raw.loyalty_members as ingest creates it, holding one earlier delivery (m1: C1, C2)
    and the newest (m2: ``rows`` of (card_no, member_name, phone, joined_on, line))."""
    con = duckdb.connect()
    ensure_raw_tables(con, get_contract("loyalty_members"))
    con.execute(
        "insert into raw.loads (load_id, source, file, delivery_date, sha256, bytes, status, "
        "started_at, finished_at) values "
        "('m1', 'loyalty_members', 'loyalty_members/2025-01-31/a.csv', date '2025-01-31', '', 0, "
        " 'loaded', now(), timestamptz '2025-02-01 00:00:00+00'), "
        "('m2', 'loyalty_members', 'loyalty_members/2025-02-28/a.csv', date '2025-02-28', '', 0, "
        " 'loaded', now(), timestamptz '2025-03-01 00:00:00+00')"
    )
    earlier = [
        ("C1", "Ann", "139", dt.date(2024, 1, 1), 2),
        ("C2", "Bo", "138", dt.date(2024, 1, 1), 3),
    ]
    for load_id, file, batch in (("m1", "a.csv", earlier), ("m2", "b.csv", rows)):
        con.executemany(
            "insert into raw.loyalty_members (card_no, member_name, phone, joined_on, _load_id, "
            "_source_file, _source_line) values (?, ?, ?, ?, ?, ?, ?)",
            [
                (card, name, phone, joined, load_id, file, line)
                for card, name, phone, joined, line in batch
            ],
        )
    return con


def test_a_duplicate_card_in_the_newest_delivery_fails_with_its_lines(tmp_path):
    suite = next(s for s in quality.load_suites() if s.name == "raw__loyalty_members")
    con = _member_list(
        [("C3", "Cy", "137", dt.date(2025, 2, 1), 2), ("C3", "Di", "136", dt.date(2025, 2, 2), 3)]
    )
    batch = quality.fetch_batch(con, suite, dt.date(2025, 3, 1))
    assert batch.parameters["min_rows"] == 0  # loyalty lists may be empty (thresholds.yml)
    # one earlier delivery: no rate yet, 10 x its 2 rows + 20 rows of slack
    assert batch.parameters["max_rows"] == 40

    outcome = quality.Validator(tmp_path / "gx").validate(suite, batch)

    assert not outcome.passed
    (failed,) = outcome.failed_critical
    assert failed.expectation == "expect_column_values_to_be_unique"
    assert [row["_source_line"] for row in failed.sample] == [2, 3]
    text = outcome.failure_text()
    assert "card_no" in text and "'C3'" in text and "b.csv" in text
    assert (
        tmp_path / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    ).exists()


def test_a_member_re_listed_with_other_whitespace_and_case_is_one_member(tmp_path):
    # The store CRM lists some members twice; the copy differs only in padding and case.
    suite = next(s for s in quality.load_suites() if s.name == "raw__loyalty_members")
    con = _member_list(
        [("C3", "Cy", "137", dt.date(2025, 2, 1), 2), ("C3", "CY ", "137", dt.date(2025, 2, 1), 3)]
    )
    batch = quality.fetch_batch(con, suite, dt.date(2025, 3, 1))
    assert batch.frame["_source_line"].tolist() == [2]
    assert quality.Validator(tmp_path / "gx").validate(suite, batch).passed


def test_row_count_bounds_scale_with_the_days_a_delivery_covers():
    """Monthly deliveries of ~1 row a day predict ~10 rows for a delivery 10 days later."""
    suite = next(s for s in quality.load_suites() if s.name == "raw__service_interactions")
    con = duckdb.connect()
    con.execute("create schema raw")
    days = ["2025-01-01", "2025-01-31", "2025-03-02", "2025-04-01", "2025-04-11"]
    rows = [5, 30, 30, 60, 3]  # 1/day, 1/day, 2/day, then the newest
    con.execute(
        "create table raw.loads as select 'l' || i as load_id, 'service_interactions' as source, "
        "'f' || i as file, d::date as delivery_date, 'loaded' as status, "
        "d::timestamptz as finished_at from (select unnest($d) as d, generate_subscripts($d, 1) as i)",
        {"d": days},
    )
    con.execute(
        "create table raw.service_interactions as select 'x' as interaction_id, 5 as nps, 3 as csat, "
        "now() as started_at, 'l' || i as _load_id, 'f' || i as _source_file, n as _source_line "
        "from (select unnest($r) as r, generate_subscripts($r, 1) as i), range(r) t(n)",
        {"r": rows},
    )
    batch = quality.fetch_batch(con, suite, dt.date(2025, 4, 11))
    # median of 1, 1, 2 rows/day = 1; 10 days covered; ratios 0.2..5 (+20 slack)
    assert (batch.parameters["min_rows"], batch.parameters["max_rows"]) == (2, 70)
    assert len(batch.frame) == 3


def _orders_mart(writes: list[list[tuple]]) -> duckdb.DuckDBPyConnection:
    """marts.orders with the columns its suite reads, written in ``writes`` (each a run)."""
    suite = next(s for s in quality.load_suites() if s.name == "marts__orders")
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create schema raw")
    con.execute("create table raw.loads (source varchar, status varchar, rows_loaded bigint)")
    con.execute("insert into raw.loads values ('shopify_orders', 'loaded', 1)")
    typed = {"order_date": "date", "_built_at": "timestamptz"}
    columns = [*suite.columns(), "_built_at"]
    con.execute(
        "create table marts.orders ("
        + ", ".join(
            f'"{c}" {typed.get(c, "double" if "amount" in c else "varchar")}' for c in columns
        )
        + ")"
    )
    for night, rows in enumerate(writes, start=1):
        for order_id, net_amount in rows:
            values = {c: None for c in columns} | {
                "order_id": order_id,
                "status": "paid",
                "net_amount": net_amount,
                "gross_amount": abs(net_amount),
                "refunded_amount": 0.0,
                "order_date": dt.date(2025, 3, night),
                "customer_id": "c1",
                "_built_at": dt.datetime(2025, 3, night, 2, tzinfo=dt.UTC),
            }
            con.execute(
                f"insert into marts.orders values ({', '.join('?' for _ in columns)})",
                [values[c] for c in columns],
            )
    return con


def test_a_mart_suite_on_a_night_reads_the_rows_of_its_last_write(tmp_path):
    suite = next(s for s in quality.load_suites() if s.name == "marts__orders")
    # An old bad row written two nights ago (it failed then), and last night's good rows.
    con = _orders_mart([[("O1", -5.0)], [("O2", 10.0), ("O3", 12.0)]])

    night = quality.fetch_batch(con, suite, dt.date(2025, 3, 3), written_only=True)
    whole = quality.fetch_batch(con, suite, dt.date(2025, 3, 3))

    assert sorted(night.frame["order_id"]) == ["O2", "O3"]
    assert night.description == "marts.orders: the 2 rows of its last write (of 3)"
    assert quality.Validator(tmp_path / "gx").validate(suite, night).passed
    # The weekly full validation reads every row and finds the old one again.
    assert len(whole.frame) == 3
    outcome = quality.Validator(tmp_path / "gx").validate(suite, whole)
    assert [o.expectation for o in outcome.failed_critical] == [
        "expect_column_values_to_be_between"
    ]
