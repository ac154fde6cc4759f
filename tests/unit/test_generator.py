"""Sample-data generator: determinism, composability, formats, truth consistency, messiness.

Everything runs at scale XS over a few months, so the module takes seconds.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import polars as pl
import pytest

from crm_tools.generator import generate
from crm_tools.generator.reference import (
    PLACEHOLDER_EMAILS,
    PLACEHOLDER_PHONES,
    SHOPIFY_EXPORT_HEADER,
)
from pipelines.lib.contracts import Contract, load_contracts

CONTRACTS = load_contracts()
START = date(2025, 1, 1)
DAYS = 365  # a year of monthly deliveries: GBK files, re-deliveries, corrections all occur


def _run(root: Path, **kw) -> dict:
    args = {"scale": "XS", "seed": 7, "start_date": START, "days": DAYS, "cadence": "monthly"}
    args.update(kw)
    return generate(root / "landing", root / "truth", **args)


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _truth(root: Path, table: str) -> pl.DataFrame:
    return pl.concat(
        [pl.read_parquet(p) for p in sorted((root / "truth" / table).glob("*.parquet"))]
    )


def _text(path: Path) -> tuple[str, str]:
    """Decoded text and encoding name (utf-8-sig, utf-8 or gbk) of a landing file."""
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("gbk"), "gbk"


def _csv(path: Path) -> tuple[list[str], list[list[str]]]:
    text, _ = _text(path)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


def _bad_kind(contract: Contract, header: list[str], row: list[str]) -> str | None:
    """Why a row would be quarantined under the contract's parsing rules, else None."""
    if len(row) != len(header):
        return "columns"
    pos = {h: i for i, h in enumerate(header)}
    for col in contract.columns:
        value = row[pos[col.canonical_header]].strip()
        if not value:
            continue
        if col.type in ("date", "timestamp", "time"):
            for fmt in col.formats:
                try:
                    datetime.strptime(value, fmt)
                    break
                except ValueError:
                    pass
            else:
                return "date"
        elif col.type in ("decimal", "integer"):
            try:
                Decimal(re.sub(r"[¥$,]|元$", "", value))
            except InvalidOperation:
                return "amount"
    return None


@pytest.fixture(scope="module")
def run_a(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("gen_a")
    return root, _run(root)


@pytest.fixture(scope="module")
def files(run_a) -> pl.DataFrame:
    return _truth(run_a[0], "files")


def _originals(files: pl.DataFrame, source: str) -> list[dict]:
    return (
        files.filter((pl.col("source") == source) & pl.col("identical_redelivery_of").is_null())
        .sort("delivery_date")
        .to_dicts()
    )


# --- determinism and composability --------------------------------------------------------


def test_same_arguments_give_identical_files(run_a, tmp_path):
    root_a, summary_a = run_a
    summary_b = _run(tmp_path)
    assert summary_a == summary_b
    assert _hashes(root_a) == _hashes(tmp_path)


def test_population_depends_only_on_scale_and_seed(run_a, tmp_path):
    _run(tmp_path, start_date=date(2026, 6, 1), days=3, cadence="daily")
    a = (run_a[0] / "truth" / "persons.parquet").read_bytes()
    assert (tmp_path / "truth" / "persons.parquet").read_bytes() == a


def test_next_days_continue_a_daily_run_exactly(tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    _run(whole, start_date=date(2025, 3, 10), days=8, cadence="daily")
    _run(split, start_date=date(2025, 3, 10), days=5, cadence="daily")
    before = _hashes(split / "landing")
    _run(split, start_date=date(2025, 3, 15), days=3, cadence="daily")
    after = _hashes(split / "landing")
    assert {k: v for k, v in after.items() if k in before} == before
    assert all(
        "/2025-03-1" in k and k.split("/")[2] >= "2025-03-15" for k in set(after) - set(before)
    )
    assert after == _hashes(whole / "landing")
    # truth: the two calls' tables together say what the single call says (an order's last
    # state wins; an identity record or interaction counts from its first delivery)
    for table, key, keep in (
        ("orders", "order_key", "last"),
        ("records", "record_key", "first"),
        ("interactions", "interaction_key", "first"),
    ):
        a = _truth(whole, table).sort("source", key)
        b = _truth(split, table).unique(["source", key], keep=keep, maintain_order=True)
        assert a.equals(b.sort("source", key)), table


def test_daily_call_after_monthly_run_adds_only_new_folders(tmp_path):
    _run(tmp_path, days=90)  # Jan..Mar, monthly
    before = _hashes(tmp_path / "landing")
    summary = _run(tmp_path, start_date=date(2025, 4, 1), days=30, cadence="daily")
    after = _hashes(tmp_path / "landing")
    assert {k: v for k, v in after.items() if k in before} == before
    new = set(after) - set(before)
    assert new and all(k.split("/")[1].startswith("2025-04-") for k in new)
    assert "products" not in summary["files"] and "stores" not in summary["files"]
    # refunds made in April to orders delivered in March come as corrected re-deliveries
    orders = pl.read_parquet(tmp_path / "truth" / "orders" / "2025-04-01_2025-04-30.parquet")
    corrected = orders.filter(
        (pl.col("source") == "tmall_orders") & (pl.col("order_date") < date(2025, 4, 1))
    )
    assert corrected.height > 0
    assert (corrected["refunded_amount"] > 0).all()


def test_rejects_overlapping_calls_and_foreign_truth(run_a, tmp_path):
    root = run_a[0]
    with pytest.raises(ValueError, match="overlaps"):
        generate(
            root / "landing",
            root / "truth",
            scale="XS",
            seed=7,
            start_date=date(2025, 3, 1),
            days=5,
            cadence="daily",
        )
    with pytest.raises(ValueError, match="seed"):
        generate(
            root / "landing",
            root / "truth",
            scale="XS",
            seed=8,
            start_date=date(2025, 6, 1),
            days=1,
        )
    with pytest.raises(ValueError, match="inside landing"):
        generate(tmp_path, tmp_path / "truth", scale="XS", seed=7, start_date=START, days=1)


# --- layout and formats -------------------------------------------------------------------


def test_layout_and_headers_follow_the_contracts(run_a, files):
    landing = run_a[0] / "landing"
    # a mapped source (generic_orders) is a merchant's own export shape: not generated
    assert set(files["source"]) == {s for s, c in CONTRACTS.items() if not c.mapped}
    for row in files.iter_rows(named=True):
        path = landing / row["file"]
        assert path.parts[-3] == row["source"] and path.parts[-2] == str(row["delivery_date"])
        contract = CONTRACTS[row["source"]]
        headers = [c.canonical_header for c in contract.columns]
        if contract.format == "jsonl":
            first = json.loads(_text(path)[0].splitlines()[0])
            assert list(first) == headers
            continue
        header, _ = _csv(path)
        if row["source"] == "shopify_orders":
            assert tuple(header) == SHOPIFY_EXPORT_HEADER
            assert set(headers) <= set(header)
        else:
            assert header == headers
    # reference data once, in the first delivery
    assert files.filter(pl.col("source").is_in(["products", "stores"])).height == 2


def test_encodings_compression_and_redelivery(run_a, files):
    landing = run_a[0] / "landing"
    for row in files.iter_rows(named=True):
        path = landing / row["file"]
        _, encoding = _text(path)
        assert encoding == row["encoding"], row["file"]
        if path.name.endswith(".gz"):
            assert path.read_bytes()[:2] == b"\x1f\x8b"
    for source in ("tmall_orders", "tmall_order_items", "loyalty_members"):
        encodings = set(files.filter(pl.col("source") == source)["encoding"])
        assert encodings == {"utf-8-sig", "gbk"}, source
    assert any(r["file"].endswith(".csv.gz") for r in _originals(files, "pos_transactions"))
    copies = files.filter(pl.col("identical_redelivery_of").is_not_null())
    assert copies.height >= 1
    for row in copies.iter_rows(named=True):
        original = landing / row["identical_redelivery_of"]
        assert (landing / row["file"]).read_bytes() == original.read_bytes()
        assert (
            Path(row["file"]).name == original.name
            and row["file"] != row["identical_redelivery_of"]
        )


def test_shopify_export_quirks(run_a, files):
    landing = run_a[0] / "landing"
    raw = (landing / _originals(files, "shopify_orders")[0]["file"]).read_text("utf-8")
    assert ',"",' in raw and ",," in raw
    header, rows = _csv(landing / _originals(files, "shopify_orders")[0]["file"])
    pos = {h: i for i, h in enumerate(header)}
    rows = [r for r in rows if _bad_kind(CONTRACTS["shopify_orders"], header, r) is None]
    first_seen: set[str] = set()
    continuation = 0
    for r in rows:
        name = r[pos["Name"]]
        assert re.fullmatch(r"#1\d{8}\d{3}", name)
        assert r[pos["Created at"]].endswith(" +0800")
        if name in first_seen:
            continuation += 1
            assert r[pos["Financial Status"]] == r[pos["Total"]] == r[pos["Currency"]] == ""
            assert r[pos["Lineitem name"]] and r[pos["Vendor"]]
        else:
            first_seen.add(name)
            assert r[pos["Financial Status"]] and r[pos["Total"]]
    assert continuation > 0
    all_rows = [
        r for f in _originals(files, "shopify_orders") for r in _csv(landing / f["file"])[1]
    ]
    all_rows = [r for r in all_rows if len(r) == len(header)]
    statuses = {r[pos["Financial Status"]] for r in all_rows} - {""}
    assert statuses == {"paid", "partially_refunded", "refunded", "voided", "pending"}
    assert any(r[pos["Billing Phone"]].startswith("'+86 ") for r in all_rows)
    assert any("\n" in r[pos["Notes"]] for r in all_rows)
    assert {r[pos["Currency"]] for r in all_rows} - {""} == {"USD", "EUR"}
    cancelled = [r for r in all_rows if r[pos["Cancelled at"]]]
    assert cancelled and {r[pos["Financial Status"]] for r in cancelled} <= {"refunded", "voided"}


def test_tmall_report_quirks(run_a, files):
    landing = run_a[0] / "landing"
    ids_with_space = 0
    for f in _originals(files, "tmall_orders"):
        header, rows = _csv(landing / f["file"])
        pos = {h: i for i, h in enumerate(header)}
        for r in rows:
            if _bad_kind(CONTRACTS["tmall_orders"], header, r):
                continue
            oid = r[pos["订单编号"]]
            assert re.fullmatch(r"\d{17,19} ?", oid)
            ids_with_space += oid.endswith(" ")
            assert re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2} \d{1,2}:\d{2}", r[pos["订单创建时间"]])
            assert r[pos["买家服务费"]] == "0元"
            if r[pos["订单付款时间"]] == "":
                assert r[pos["买家实际支付金额"]] == "0" and r[pos["订单状态"]] == "交易关闭"
    assert ids_with_space > 0
    for f in _originals(files, "tmall_order_items"):
        header, rows = _csv(landing / f["file"])
        for r in rows:
            if len(r) == len(header):
                assert not r[0].endswith(" ")
                if "：" not in r[header.index("商品属性")]:
                    pytest.fail("商品属性 without a full-width colon")


# --- truth consistency --------------------------------------------------------------------


def test_file_row_counts_and_malformed_rows_match_truth(run_a, files):
    landing = run_a[0] / "landing"
    kinds: Counter[str] = Counter()
    valid_rows: dict[str, int] = defaultdict(int)
    for f in files.to_dicts():
        path = landing / f["file"]
        contract = CONTRACTS[f["source"]]
        if contract.format == "jsonl":
            lines = _text(path)[0].splitlines()
            bad = 0
            for line in lines:
                try:
                    json.loads(line)
                except json.JSONDecodeError:
                    bad += 1
            kinds["json"] += bad
            n = len(lines)
        else:
            header, rows = _csv(path)
            found = [k for r in rows if (k := _bad_kind(contract, header, r))]
            kinds.update(found)
            bad, n = len(found), len(rows)
        assert n == f["data_rows"], f["file"]
        assert bad == f["malformed_rows"], f["file"]
        if f["identical_redelivery_of"] is None:
            good = n - bad - f["duplicate_rows"] - f["near_duplicate_rows"]
            valid_rows[f["source"]] += good
    assert {"columns", "date", "amount", "json"} <= set(kinds)

    orders = _truth(run_a[0], "orders")
    records = _truth(run_a[0], "records")
    interactions = _truth(run_a[0], "interactions")
    lines = dict(orders.group_by("source").agg(pl.col("line_count").sum()).iter_rows())
    count = dict(orders.group_by("source").len().iter_rows())
    assert valid_rows["shopify_orders"] == lines["shopify_orders"]
    assert valid_rows["pos_transactions"] == lines["pos_transactions"]
    # Tmall: every order once, plus the corrected re-deliveries (which repeat their lines)
    tmall_keys: Counter[str] = Counter()
    for f in _originals(files, "tmall_orders"):
        header, rows = _csv(landing / f["file"])
        tmall_keys.update({r[0].strip() for r in rows if len(r) == len(header)})
    assert len(tmall_keys) == count["tmall_orders"]
    assert valid_rows["tmall_orders"] == tmall_keys.total()
    repeated = [k for k, v in tmall_keys.items() if v > 1]
    tm = orders.filter(pl.col("source") == "tmall_orders")
    extra_lines = tm.filter(pl.col("order_key").is_in(repeated))["line_count"].sum()
    assert valid_rows["tmall_order_items"] == lines["tmall_orders"] + extra_lines
    by_source = dict(interactions.group_by("source").len().iter_rows())
    assert valid_rows["social_events"] == by_source["social_events"]
    assert valid_rows["service_interactions"] == by_source["service_interactions"]
    assert (
        valid_rows["loyalty_members"]
        == records.filter(pl.col("source") == "loyalty_members").height
    )
    assert (
        records.filter(pl.col("source") == "pos_transactions").height == count["pos_transactions"]
    )


def test_order_amounts_match_files_and_fx(run_a, files):
    landing = run_a[0] / "landing"
    rates: dict[tuple[str, str], Decimal] = {}
    for f in _originals(files, "fx_rates"):
        header, rows = _csv(landing / f["file"])
        for d, frm, to, rate in rows:
            assert to == "CNY" and frm in ("USD", "EUR") and len(rate.split(".")[1]) == 6
            rates[(d, frm)] = Decimal(rate)
    days = {d for d, _ in rates}
    assert len(days) == DAYS and len(rates) == 2 * DAYS

    orders = {(r["source"], r["order_key"]): r for r in _truth(run_a[0], "orders").to_dicts()}
    seen = Counter()
    for f in _originals(files, "shopify_orders"):
        header, rows = _csv(landing / f["file"])
        pos = {h: i for i, h in enumerate(header)}
        for r in rows:
            if _bad_kind(CONTRACTS["shopify_orders"], header, r) or not r[pos["Total"]]:
                continue
            t = orders[("shopify_orders", r[pos["Name"]])]
            total, refunded = Decimal(r[pos["Total"]]), Decimal(r[pos["Refunded Amount"]])
            assert t["gross_amount"] == total and t["refunded_amount"] == refunded
            paid = r[pos["Financial Status"]] in ("paid", "partially_refunded", "refunded")
            net = total - refunded if paid else Decimal("0.00")
            assert t["net_amount"] == net
            rate = rates[(str(t["order_date"]), t["currency"])]
            assert t["net_amount_reporting"] == (net * rate).quantize(
                Decimal("0.01"), ROUND_HALF_UP
            )
            seen["shopify"] += 1
    last_state: dict[str, list[str]] = {}
    header = []
    for f in _originals(files, "tmall_orders"):
        header, rows = _csv(landing / f["file"])
        for r in rows:
            if not _bad_kind(CONTRACTS["tmall_orders"], header, r):
                last_state[r[0].strip()] = r
    pos = {h: i for i, h in enumerate(header)}
    for key, r in last_state.items():
        t = orders[("tmall_orders", key)]
        # as in the real reports, 买家实际支付金额 is what stays paid after the refund
        paid = Decimal(r[pos["买家实际支付金额"]]) if r[pos["订单付款时间"]] else Decimal(0)
        net = paid
        if r[pos["订单付款时间"]]:
            assert paid + Decimal(r[pos["退款金额"]]) == Decimal(r[pos["总金额"]])
        assert t["gross_amount"] == Decimal(r[pos["总金额"]])
        assert t["net_amount"] == net == t["net_amount_reporting"]
        seen["tmall"] += 1
    pos_sum: dict[str, Decimal] = defaultdict(Decimal)
    for f in _originals(files, "pos_transactions"):
        header, rows = _csv(landing / f["file"])
        p = {h: i for i, h in enumerate(header)}
        for r in {
            tuple(r) for r in rows if not _bad_kind(CONTRACTS["pos_transactions"], header, r)
        }:
            qty, price, disc = (
                int(r[p["Qty"]]),
                Decimal(r[p["Unit Price"]]),
                Decimal(r[p["Discount"]]),
            )
            assert Decimal(r[p["Amount"]]) == qty * price - disc
            pos_sum[f"{r[p['Store ID']]}/{r[p['Receipt No']]}"] += Decimal(r[p["Amount"]])
    for key, amount in pos_sum.items():
        assert orders[("pos_transactions", key)]["net_amount"] == amount
    assert seen["shopify"] > 100 and seen["tmall"] > 100 and len(pos_sum) > 50


# --- planted messiness and identity -------------------------------------------------------


def _identifiers(landing: Path, files: pl.DataFrame) -> dict[tuple[str, str], set]:
    """Identifiers per identity record, normalised the way a simple resolver would."""

    def email(v):
        v = (v or "").strip().lower()
        return ("email", v) if "@" in v and v not in PLACEHOLDER_EMAILS else None

    def phone(v):
        d = re.sub(r"\D", "", v or "")
        d = d[2:] if len(d) == 13 and d.startswith("86") else d
        return ("phone", d) if len(d) == 11 and d not in PLACEHOLDER_PHONES else None

    ids: dict[tuple[str, str], set] = defaultdict(set)
    for f in files.filter(pl.col("identical_redelivery_of").is_null()).to_dicts():
        source, path = f["source"], landing / f["file"]
        if source == "social_events":
            for line in _text(path)[0].splitlines():
                try:
                    ev = json.loads(line)
                except json.JSONDecodeError:
                    continue
                key = (source, f"{ev['platform']}:{ev['handle'].lower()}")
                ids[key] |= {
                    ("handle", key[1]),
                    email(ev["linked_email"]),
                    phone(ev["linked_phone"]),
                }
            continue
        fields = {  # key column, (column, identifier kind), e-mail and phone columns
            "shopify_orders": ("Name", (), ("Email",), ("Billing Phone", "Phone")),
            "tmall_orders": ("订单编号", (("买家会员名", "nick"),), (), ("联系手机",)),
            "pos_transactions": (None, (("Member Card", "card"),), (), ("Phone",)),
            "loyalty_members": ("会员卡号", (("会员卡号", "card"),), ("邮箱",), ("手机号",)),
            "service_interactions": (
                "Interaction ID",
                (),
                ("Customer Email",),
                ("Customer Phone",),
            ),
        }.get(source)
        if fields is None:
            continue
        key_col, anchors, emails, phones = fields
        header, rows = _csv(path)
        for r in rows:
            if len(r) != len(header):
                continue
            d = dict(zip(header, r, strict=True))
            k = d[key_col].strip() if key_col else f"{d['Store ID']}/{d['Receipt No']}"
            found = ids[(source, k)]
            found |= {(kind, d[c].strip()) for c, kind in anchors if d[c].strip()}
            found |= {email(d[c]) for c in emails} | {phone(d[c]) for c in phones}
    return {k: v - {None} for k, v in ids.items()}


def test_identity_records_link_with_a_simple_resolver(run_a, files):
    """Exact matching on normalised identifiers, ignoring phones that carry two member cards
    or two Tmall nicks (shared family phones), reaches the precision/recall the design aims at."""
    ids = _identifiers(run_a[0] / "landing", files)
    records = _truth(run_a[0], "records").unique(["source", "record_key"])
    truth = {(r["source"], r["record_key"]): r["person_id"] for r in records.to_dicts()}
    assert set(ids) == set(truth)
    holders: dict[str, set] = defaultdict(set)
    for s in ids.values():
        anchors = {x for x in s if x[0] in ("card", "nick")}
        for x in s:
            if x[0] == "phone":
                holders[x[1]] |= anchors
    shared = {
        p for p, a in holders.items() if max(Counter(k for k, _ in a).values(), default=0) > 1
    }
    assert shared, "expected shared family phones in store/Tmall data"
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for k, s in ids.items():
        for x in s:
            if not (x[0] == "phone" and x[1] in shared):
                parent[find(k)] = find(x)
    identifiable = records.filter(pl.col("identifiable"))
    keys = [(r["source"], r["record_key"]) for r in identifiable.to_dicts()]
    clusters: dict = defaultdict(list)
    persons: dict = defaultdict(list)
    for k in keys:
        clusters[find(k)].append(truth[k])
        persons[truth[k]].append(find(k))

    def pairs(groups) -> int:
        return sum(len(g) * (len(g) - 1) // 2 for g in groups)

    same = sum(pairs([[1] * n for n in Counter(g).values()]) for g in clusters.values())
    precision = same / pairs(clusters.values())
    recall = same / pairs(persons.values())
    assert precision >= 0.99 and recall >= 0.95, (precision, recall)
    # records without any identifier exist (anonymous receipts), and are flagged
    assert not records.filter(~pl.col("identifiable")).is_empty()


def test_placeholders_duplicates_and_shared_phones_are_planted(run_a, files):
    landing = run_a[0] / "landing"
    persons = pl.read_parquet(run_a[0] / "truth" / "persons.parquet")
    assert (
        persons.filter(pl.col("phone").is_duplicated() & pl.col("phone").is_not_null()).height >= 2
    )
    assert 0.2 <= persons["is_prospect"].mean() <= 0.3
    text = "\n".join(
        _text(landing / f)[0]
        for f in files.filter(pl.col("identical_redelivery_of").is_null())["file"]
    )
    for placeholder in (*PLACEHOLDER_EMAILS[:1], *PLACEHOLDER_PHONES[:1]):
        assert placeholder in text
    assert re.search(r",  \S+@\S+ ,", text)  # padded e-mail
    assert re.search(r"\b86 ?1\d{10}\b|\b1\d{2} \d{4} \d{4}\b", text)  # phone variants
    sums = files.select(pl.col("duplicate_rows", "near_duplicate_rows").sum()).row(0)
    assert sums[0] > 0 and sums[1] > 0


def test_deduplicated_emails_stay_valid():
    import re

    import numpy as np
    import polars as pl

    from crm_tools.generator.population import make_unique

    emails = pl.Series(["max.liu@163.com", "Max.Liu@163.com", "max.liu@163.com", "a@b.cn"])
    got = make_unique(emails, np.random.default_rng(0), before="@")
    assert got.str.to_lowercase().n_unique() == 4
    assert all(re.fullmatch(r"[^@\s]+@(163\.com|b\.cn)", e) for e in got)
