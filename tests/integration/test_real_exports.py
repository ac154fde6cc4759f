"""The real merchant exports in ../shared/real-exports load through the real ingest assets,
with exact counts taken from their README (rows, orders, buyers, totals)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import dagster as dg
import pytest

from pipelines.defs.ingest.assets import ingest_assets
from pipelines.settings import connect
from tests.conftest import deliver, materialise_ingest

SHOPIFY = {
    # file: (rows, orders)
    "enavant_orders_export_1.pseudonymised.csv": (811, 409),
    "kidsliving_orders_export.pseudonymised.csv": (101, 50),
    "explorer_orders_export_1.pseudonymised.csv": (98, 81),
    "maisonmaria_orders_export_1.pseudonymised.csv": (61, 60),
}


def _materialise(sources: list[str]) -> dg.ExecuteInProcessResult:
    assets = [a for a in ingest_assets if a.key.path[-1] in sources]
    return materialise_ingest(assets)


@pytest.fixture
def loaded(data_dir: Path, real_exports: Path):
    landing = data_dir / "landing"
    for name in SHOPIFY:
        deliver(landing, "shopify_orders", "2024-01-01", real_exports / "shopify" / name)
    tt = real_exports / "taobao_tmall"
    deliver(landing, "tmall_orders", "2024-01-01", tt / "taobao_toyshop_orders.csv")
    deliver(landing, "tmall_orders", "2024-01-02", tt / "tmall_order_report.csv")
    deliver(landing, "tmall_order_items", "2024-01-01", tt / "taobao_toyshop_items_orders.csv")
    deliver(landing, "products", "2024-01-01", tt / "taobao_toyshop_items_attribute.gbk.csv")
    deliver(landing, "pos_transactions", "2024-01-01", real_exports / "pos" / "BreadBasket_DMS.csv")
    result = _materialise(
        ["shopify_orders", "tmall_orders", "tmall_order_items", "products", "pos_transactions"]
    )
    assert result.success
    return result


def test_shopify_exports_load_every_row(loaded):
    with connect(read_only=True) as con:
        for name, (rows, orders) in SHOPIFY.items():
            got = con.execute(
                "select count(*), count(distinct order_name) from raw.shopify_orders "
                "where _source_file like '%' || $n",
                {"n": name},
            ).fetchone()
            assert got == (rows, orders), name
        quarantined = con.execute("select count(*) from raw.quarantine").fetchone()[0]
    assert quarantined == 0


def test_shopify_order_level_fields_come_from_first_rows(loaded):
    with connect(read_only=True) as con:
        statuses = dict(
            con.execute(
                "select financial_status, count(*) from raw.shopify_orders "
                "where _source_file like '%enavant%' and financial_status is not null group by 1"
            ).fetchall()
        )
        emails, repeaters = con.execute(
            "with o as (select order_name, lower(any_value(email)) as email from raw.shopify_orders "
            "where _source_file like '%enavant%' group by 1) select count(distinct email), "
            "(select count(*) from (select email from o where email is not null group by 1 "
            "having count(*) > 1)) from o"
        ).fetchone()
        cancelled = con.execute(
            "select count(distinct order_name) from raw.shopify_orders "
            "where _source_file like '%enavant%' and cancelled_at is not null"
        ).fetchone()[0]
        zips = con.execute(
            "select count(*) from raw.shopify_orders where _source_file like '%kidsliving%' "
            "and billing_zip like '''%'"
        ).fetchone()[0]
    assert statuses == {"paid": 340, "refunded": 43, "partially_refunded": 26}
    assert (emails, repeaters) == (296, 42)
    assert cancelled == 20
    assert zips == 50  # raw keeps the apostrophe Shopify adds; staging strips it


def test_taobao_order_report(loaded):
    with connect(read_only=True) as con:
        orders, buyers, first, last, refunds, fee = con.execute(
            "select count(distinct trim(order_id)), count(distinct buyer_nick), "
            "min(timezone('Asia/Shanghai', created_at)), max(timezone('Asia/Shanghai', created_at)), "
            "count(*) filter (where refund_amount > 0), max(buyer_service_fee) "
            "from raw.tmall_orders where _source_file like '%toyshop%'"
        ).fetchone()
        repeat = con.execute(
            "select count(*), max(n) from (select buyer_nick, count(*) as n from raw.tmall_orders "
            "where _source_file like '%toyshop%' group by 1 having count(*) > 1)"
        ).fetchone()
        matched = con.execute(
            "select count(*), count(o.order_id) from raw.tmall_order_items as i "
            "left join raw.tmall_orders as o on trim(o.order_id) = trim(i.order_id)"
        ).fetchone()
    assert (orders, buyers) == (3989, 3411)
    assert repeat == (376, 16)
    assert (str(first), str(last)) == ("2017-05-01 00:00:00", "2017-05-30 23:18:00")
    assert refunds == 46
    assert fee == Decimal("0.00")  # written as "0元"
    assert matched == (21897, 21897)


def test_tmall_report_totals_to_the_cent(loaded):
    with connect(read_only=True) as con:
        got = con.execute(
            "select count(*), sum(total_amount), sum(paid_amount), sum(refund_amount), "
            "count(*) filter (where paid_at is null) from raw.tmall_orders "
            "where _source_file like '%tmall_order_report%'"
        ).fetchone()
    assert got == (28010, Decimal("2995760.61"), Decimal("1902487.15"), Decimal("572335.92"), 3923)


def test_gbk_product_file_is_detected_and_loaded(loaded):
    with connect(read_only=True) as con:
        rows, encoding = con.execute(
            "select rows_loaded, encoding from raw.loads where source = 'products'"
        ).fetchone()
        brands = con.execute("select count(distinct brand) from raw.products").fetchone()[0]
    assert (rows, encoding) == (288, "gb18030")
    assert brands > 1


def test_bakery_pos_log(loaded):
    with connect(read_only=True) as con:
        got = con.execute(
            "select count(*), count(distinct receipt_id), min(sale_date), max(sale_date) "
            "from raw.pos_transactions"
        ).fetchone()
    assert got[:2] == (21293, 9531)
    assert (str(got[2]), str(got[3])) == ("2016-10-30", "2017-04-09")


def test_second_run_loads_nothing(loaded):
    with connect(read_only=True) as con:
        before = con.execute("select count(*) from raw.loads").fetchone()[0]
    result = _materialise(["shopify_orders", "tmall_orders"])
    assert result.success
    with connect(read_only=True) as con:
        after = con.execute("select count(*) from raw.loads").fetchone()[0]
        rows = con.execute("select count(*) from raw.shopify_orders").fetchone()[0]
    assert after == before
    assert rows == sum(r for r, _ in SHOPIFY.values())
