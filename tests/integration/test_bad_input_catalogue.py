"""The bad-input catalogue (docs/bad-input.md): each case is a named delivery and what the
system must do with it, one of: every row loaded with the right values, the bad rows
quarantined (line and reason) and the rest loaded, or the file rejected with a message
naming the file and the cause. Never a silent drop, never another file's rows lost, row
accounting always holds and landing files are never modified or deleted.

Every case's files land in one landing folder and the real ingest assets run once over all
of them (plus a second run for the cases that need a sender to act between two runs: a
file still being written, an upload still named .part, a corrected re-delivery under the
same name). The runs are expected to fail: some files are rejected.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.defs.ingest.assets import ingest_assets
from pipelines.lib.contracts import get_contract, load_contracts
from pipelines.settings import PROJECT_ROOT, get_settings
from tests.conftest import materialise_ingest, point_at

# One landing folder and two ingest runs serve every test here: keep them on one worker.
pytestmark = pytest.mark.xdist_group("bad_input_catalogue")

DOC = PROJECT_ROOT / "docs" / "bad-input.md"

D1, D2, D3 = "2025-03-01", "2025-03-02", "2025-03-03"
# Replaced by the folder outside landing that symlinks point to.
OUTSIDE = "{outside}"


# --- outcomes and cases ------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    """Every row loaded: exactly ``rows`` (values of ``columns``, in file order)."""

    columns: tuple[str, ...]
    rows: list[tuple]
    ignored_headers: str | None = None  # raw.loads.ignored_headers, when the case is about it
    encoding: str | None = None  # raw.loads.encoding, when the case is about it


@dataclass(frozen=True)
class Quarantined:
    """These lines quarantined (line -> reason substring); the file's other rows loaded as
    ``rows`` (values of ``columns``, in file order)."""

    lines: dict[int, str]
    columns: tuple[str, ...] = ("_source_line",)
    rows: list[tuple] = field(default_factory=list)


@dataclass(frozen=True)
class Rejected:
    """The file refused: the run fails with ``<file>: <cause>``; nothing of it is loaded.
    Refused by ingest, it is recorded in raw.loads as rejected (and retried every run); by
    the landing scan (``scan``), before any read, it is not recorded."""

    cause: str
    scan: bool = False
    file: str | None = None  # the path the message names, when not the case's one file


@dataclass(frozen=True)
class Symlink:
    target: str  # may start with OUTSIDE


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    # Path under landing (or under OUTSIDE) -> bytes, a Symlink, or None for an empty folder.
    files: dict[str, bytes | Symlink | None]
    outcome: Loaded | Quarantined | Rejected
    # (file, status) of every raw.loads row of the case, when not one 'loaded' per data file.
    loads: list[tuple[str, str]] | None = None
    # Delivery folders left without a _SUCCESS marker (still being written).
    incomplete: tuple[str, ...] = ()
    # What the sender does between the two runs (path -> new bytes, or None: removed); the
    # outcome is then judged after the second run.
    between_runs: dict[str, bytes | None] = field(default_factory=dict)

    @property
    def data_files(self) -> list[str]:
        """The case's paths under landing that ingest sees as files (final state)."""
        paths = [p for p, v in self.files.items() if not p.startswith(OUTSIDE) and v is not None]
        paths += [p for p, v in self.between_runs.items() if v is not None]
        removed = {p for p, v in self.between_runs.items() if v is None}
        return sorted({p for p in paths if p not in removed})


def text(*lines: str, encoding: str = "utf-8", newline: str = "\n") -> bytes:
    return (newline.join(lines) + newline).encode(encoding)


def header(source: str) -> str:
    return ",".join(c.canonical_header for c in get_contract(source).columns)


def pos(receipt: str, **values: str) -> str:
    """A POS receipt line with a value per column; override by contract column name."""
    row = {
        "store_id": "S01",
        "receipt_id": receipt,
        "line_no": "1",
        "sale_date": D1,
        "sale_time": "10:00:00",
        "sku": "SKU1",
        "item_name": "Tea",
        "quantity": "2",
        "unit_price": "5.00",
        "discount_amount": "0",
        "line_amount": "10.00",
        "payment_method": "cash",
        "member_card": "",
        "phone": "",
    } | values
    return ",".join(row[c] for c in get_contract("pos_transactions").column_names)


def event(event_id: str, **values) -> str:
    return json.dumps(
        {
            "event_id": event_id,
            "platform": "weibo",
            "handle": "@tea_lover",
            "event_type": "comment",
            "event_at": "2025-03-01T10:00:00+08:00",
            "text": "nice",
        }
        | values,
        ensure_ascii=False,
    )


def member(card: str, name: str, gender: str = "女") -> str:
    return f"{card},{name},{gender},1990-05-01,教师,上海,13800138000,m@example.com,2024-01-01,是"


def parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def gbk_name(name: str) -> str:
    """A file name as its GBK bytes, the way an archive made on Chinese Windows unzips."""
    return os.fsdecode(name.encode("gbk"))


def shown(path: str) -> str:
    """How the system prints a path whose name is not UTF-8."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


POS = "pos_transactions"
POS_H = header(POS)
POS_D1 = f"{POS}/{D1}"
LOYALTY_H = header("loyalty_members")
TMALL_H = "订单编号,买家会员名,总金额,买家实际支付金额,订单创建时间,订单付款时间"
ITEMS_H = "订单编号,标题,价格,购买数量"
SHOPIFY_H = "Name,Email,Financial Status,Currency,Total,Created at,Lineitem quantity,Lineitem name,Lineitem price"
SERVICE_H = "Interaction ID,Channel,Started At,Customer Email,CSAT,NPS"
CAMPAIGN_H = "Date,Channel,Campaign,Spend,Currency"

LONG_ITEM = "茶" * (10 * 1024 * 1024 // 3)  # a 10 MB field (3 bytes a character)
# More UTF-8 than the encoding probe reads (4 MB), then one GBK line.
PAD = "x" * 1000
PROBE_FILLER = [pos(f"PB{i:05d}", item_name=PAD) for i in range(4300)]
MIXED_LATE = (
    text(POS_H, *PROBE_FILLER)
    + pos("PB-GBK", item_name="张伟").encode("gbk")
    + b"\n"
    + text(pos("PB-AFTER"))
)
REDELIVERED = text(POS_H, pos("DUP1"), pos("DUP2"))
GZ_DATA = gzip.compress(text(POS_H, *(pos(f"GZ{i}") for i in range(300))))

CASES: list[Case] = [
    # --- files that cannot be read at all -------------------------------------------------
    Case(
        "empty_file", POS, {f"{POS_D1}/empty.csv": b""}, Rejected("empty file (0 bytes), no header")
    ),
    Case(
        "header_only",
        POS,
        {f"{POS_D1}/header_only.csv": text(POS_H)},
        Loaded(("receipt_id",), []),
    ),
    Case(
        "only_empty_lines",
        POS,
        {f"{POS_D1}/only_newlines.csv": b"\n\r\n\n"},
        Rejected("no header row (the file holds only empty lines)"),
    ),
    Case(
        "binary_garbage",
        POS,
        {f"{POS_D1}/garbage.csv": bytes(range(256)) * 16},
        Rejected("binary content (NUL bytes), not a text export"),
    ),
    Case(
        "binary_garbage_without_nul_bytes",
        POS,
        {f"{POS_D1}/garbage_high.csv": bytes(range(0x80, 0x100)) * 16},
        Rejected("not UTF-8 and not GBK (invalid byte at offset 0)"),
    ),
    Case(
        "truncated_csv_gz",
        POS,
        {f"{POS_D1}/cut.csv.gz": GZ_DATA[: len(GZ_DATA) // 2]},
        Rejected("cannot read file: Compressed file ended before the end-of-stream marker"),
    ),
    Case(
        "gz_suffix_but_not_gzip",
        "products",
        {f"products/{D1}/products.csv.gz": text("SKU,Name", "P1,Teapot")},
        Rejected("cannot read file: Not a gzipped file"),
    ),
    Case(
        "truncated_parquet",
        "products",
        {
            f"products/{D1}/products.parquet": parquet(
                pl.DataFrame({"SKU": ["P2", "P3"], "Name": ["Cup", "Kettle"]})
            )[:200]
        },
        Rejected("cannot parse: Invalid Input Error: No magic bytes found at end of file"),
    ),
    Case(
        "parquet_delivery",
        "products",
        {
            f"products/{D1}/catalogue.parquet": parquet(
                pl.DataFrame({"SKU": ["P4"], "Name": ["Tray"], "List Price": [12.5], "rowid": [7]})
            )
        },
        Loaded(
            ("sku", "product_name", "list_price"),
            [("P4", "Tray", Decimal("12.50"))],
            ignored_headers="rowid_1",
        ),
    ),
    Case(
        "utf16_export",
        POS,
        {f"{POS_D1}/unicode_text.csv": text(POS_H, pos("U16"), encoding="utf-16")},
        Rejected("UTF-16 files are not supported; export as UTF-8"),
    ),
    Case(
        "unsupported_file_type",
        POS,
        {f"{POS_D1}/receipts.xlsx": b"PK\x03\x04not really a workbook"},
        Rejected("unsupported file type", scan=True),
    ),
    # --- encodings --------------------------------------------------------------------------
    Case(
        "utf8_bom",
        "loyalty_members",
        {
            f"loyalty_members/{D1}/会员列表_bom.csv": text(
                LOYALTY_H, member("M-BOM", "王芳"), encoding="utf-8-sig"
            )
        },
        Loaded(
            ("card_no", "member_name", "gender", "marketing_consent", "_source_line"),
            [("M-BOM", "王芳", "女", True, 2)],
            encoding="utf-8-sig",
        ),
    ),
    Case(
        "gbk_without_declared_encoding",
        "loyalty_members",
        {
            f"loyalty_members/{D1}/会员列表_gbk.csv": text(
                LOYALTY_H, member("M-GBK", "张伟", "男"), encoding="gbk"
            )
        },
        Loaded(
            ("card_no", "member_name", "gender", "birthday", "_source_line"),
            [("M-GBK", "张伟", "男", date(1990, 5, 1), 2)],
            encoding="gb18030",
        ),
    ),
    Case(
        "gbk_in_csv_gz",
        "tmall_order_items",
        {
            f"tmall_order_items/{D1}/宝贝报表.csv.gz": gzip.compress(
                text(ITEMS_H, "TI-GZ1,绿茶 礼盒,88,2", encoding="gbk")
            )
        },
        Loaded(
            ("order_id", "title", "unit_price", "quantity"),
            [("TI-GZ1", "绿茶 礼盒", Decimal("88"), 2)],
            encoding="gb18030",
        ),
    ),
    Case(
        # "上海市": an odd number of UTF-8 CJK characters is not valid GBK either.
        "mixed_encodings_in_one_file",
        "loyalty_members",
        {
            f"loyalty_members/{D1}/会员列表_mixed.csv": text(
                LOYALTY_H, member("M-MIX1", "李娜"), encoding="gbk"
            )
            + text(member("M-MIX2", "上海市"))
        },
        Rejected("not UTF-8 and not GBK (invalid byte at offset"),
    ),
    Case(
        "gbk_line_after_the_encoding_probe",
        POS,
        {f"{POS_D1}/mixed_late.csv": MIXED_LATE},
        Quarantined(
            {4302: "INVALID ENCODING"},
            ("receipt_id", "_source_line"),
            [(f"PB{i:05d}", i + 2) for i in range(4300)] + [("PB-AFTER", 4303)],
        ),
    ),
    # --- structure: delimiter, columns, rows -----------------------------------------------
    Case(
        "wrong_delimiter",
        POS,
        {f"{POS_D1}/semicolons.csv": text(POS_H.replace(",", ";"), pos("SEMI").replace(",", ";"))},
        Rejected("missing required column(s): receipt_id (Receipt No / Transaction / 小票号)"),
    ),
    Case(
        "missing_required_column",
        POS,
        {
            f"{POS_D1}/no_receipt_column.csv": text(
                POS_H.replace("Receipt No,", ""), pos("NORC").replace("NORC,", "")
            )
        },
        Rejected("missing required column(s): receipt_id"),
    ),
    Case(
        "missing_optional_columns",
        POS,
        {
            f"{POS_D1}/no_contacts.csv": text(
                POS_H.removesuffix(",Member Card,Phone"), pos("OPT1").removesuffix(",,")
            )
        },
        Loaded(
            ("receipt_id", "member_card", "phone", "line_amount"),
            [("OPT1", None, None, Decimal("10.00"))],
        ),
    ),
    Case(
        "extra_columns",
        POS,
        {f"{POS_D1}/extra.csv": text(POS_H + ",Cashier,Loyalty Tier", pos("EXT1") + ",Li,gold")},
        Loaded(
            ("receipt_id", "payment_method"),
            [("EXT1", "cash")],
            ignored_headers="Cashier, Loyalty Tier",
        ),
    ),
    Case(
        "reordered_columns",
        POS,
        {
            f"{POS_D1}/reordered.csv": text(
                ",".join(reversed(POS_H.split(","))),
                ",".join(reversed(pos("REO1", phone="13900000000").split(","))),
            )
        },
        Loaded(
            ("store_id", "receipt_id", "sale_date", "unit_price", "phone"),
            [("S01", "REO1", date(2025, 3, 1), Decimal("5.00"), "13900000000")],
        ),
    ),
    Case(
        "headers_as_aliases_with_odd_case_and_spaces",
        POS,
        {
            f"{POS_D1}/chinese_headers.csv": text(
                " 门店编号 ,小票号,行号,日期,TIME,商品编码,商品名称,数量,单价,折扣,金额,支付方式,会员卡号,手机号",
                pos("ALIAS1"),
            )
        },
        Loaded(("store_id", "receipt_id", "sale_time"), [("S01", "ALIAS1", time(10, 0))]),
    ),
    Case(
        "malformed_rows",
        POS,
        {
            f"{POS_D1}/malformed.csv": text(
                POS_H,
                pos("MAL1"),
                "S01,MAL2,1,2025-03-01,10:05:00,SKU1,Tea,1,5.00",  # wrong column count
                pos("MAL3", sale_date="2025-02-30"),  # impossible date
                pos("MAL4", item_name='"Tea\nwith note"', unit_price="abc"),  # bad amount
                pos("MAL5", unit_price='"¥1,200.50"', line_amount="1200.50元"),
            )
        },
        Quarantined(
            {
                3: "MISSING COLUMNS",
                4: "column sale_date (Date): cannot parse date from 2025-02-30",
                5: "column unit_price (Unit Price): cannot parse decimal from abc",
            },
            ("receipt_id", "unit_price", "line_amount", "_source_line"),
            [
                ("MAL1", Decimal("5.00"), Decimal("10.00"), 2),
                ("MAL5", Decimal("1200.50"), Decimal("1200.50"), 6),
            ],
        ),
    ),
    Case(
        "row_with_too_many_fields",
        POS,
        {f"{POS_D1}/too_many.csv": text(POS_H, pos("TM1"), pos("TM2") + ",surplus", pos("TM3"))},
        Quarantined(
            {3: "TOO MANY COLUMNS"}, ("receipt_id", "_source_line"), [("TM1", 2), ("TM3", 4)]
        ),
    ),
    Case(
        # An unquoted thousands separator splits the price in two; with the contact columns
        # empty the row has only empty fields too many, which DuckDB would drop silently.
        "unquoted_thousands_separator_shifts_a_row",
        POS,
        {
            f"{POS_D1}/unquoted_amount.csv": text(
                POS_H, pos("UQ1"), pos("UQ2", unit_price="1,200.50", line_amount="1200.50")
            )
        },
        Quarantined({3: "TOO MANY COLUMNS"}, ("receipt_id", "_source_line"), [("UQ1", 2)]),
    ),
    Case(
        "trailing_delimiter_on_every_row",
        POS,
        {f"{POS_D1}/trailing_comma.csv": text(POS_H, pos("TC1") + ",", pos("TC2") + ",")},
        Quarantined({2: "TOO MANY COLUMNS", 3: "TOO MANY COLUMNS"}),
    ),
    Case(
        "empty_lines_between_rows",
        POS,
        {
            f"{POS_D1}/empty_lines.csv": text(
                POS_H, pos("EL1"), "", pos("EL2"), "", "", "S01,EL3,1", pos("EL4"), newline="\r\n"
            )
        },
        Quarantined(
            {7: "MISSING COLUMNS"},
            ("receipt_id", "_source_line"),
            [("EL1", 2), ("EL2", 4), ("EL4", 8)],
        ),
    ),
    Case(
        "empty_line_before_the_header",
        POS,
        {f"{POS_D1}/leading_empty.csv": text("", POS_H, pos("LE1"), pos("LE2"))},
        Loaded(("receipt_id", "_source_line"), [("LE1", 3), ("LE2", 4)]),
    ),
    Case(
        "header_repeated_mid_file",
        POS,
        {f"{POS_D1}/concatenated.csv": text(POS_H, pos("CAT1"), POS_H, pos("CAT2"))},
        Quarantined(
            {3: "column sale_date (Date): cannot parse date from Date"},
            ("receipt_id", "_source_line"),
            [("CAT1", 2), ("CAT2", 4)],
        ),
    ),
    # --- quoting ----------------------------------------------------------------------------
    Case(
        # Line numbers count CSV records (header = 1), as a spreadsheet numbers rows.
        "quoted_newlines",
        POS,
        {
            f"{POS_D1}/quoted_newlines.csv": text(
                POS_H, pos("QN1"), pos("QN2", item_name='"Tea\n\nwith a note"'), pos("QN3")
            )
        },
        Loaded(
            ("receipt_id", "item_name", "_source_line"),
            [("QN1", "Tea", 2), ("QN2", "Tea\n\nwith a note", 3), ("QN3", "Tea", 4)],
        ),
    ),
    Case(
        "stray_quote_inside_a_value",
        POS,
        {f"{POS_D1}/stray_inside.csv": text(POS_H, pos("SQ1", item_name='Tea "special" blend'))},
        Loaded(("receipt_id", "item_name"), [("SQ1", 'Tea "special" blend')]),
    ),
    Case(
        "stray_quote_at_the_start_of_a_value",
        POS,
        {
            f"{POS_D1}/stray_start.csv": text(
                POS_H, pos("SS1"), pos("SS2", item_name='"Tea" blend'), pos("SS3")
            )
        },
        Quarantined(
            {3: "UNQUOTED VALUE Item: Value with unterminated quote found"},
            ("receipt_id", "_source_line"),
            [("SS1", 2), ("SS3", 4)],
        ),
    ),
    Case(
        # The quote swallows every line after it into one record: quarantined whole, with
        # the swallowed lines in its original text.
        "quote_never_closed",
        POS,
        {
            f"{POS_D1}/unclosed.csv": text(
                POS_H, pos("UC1"), pos("UC2", item_name='"Tea'), pos("UC3"), pos("UC4")
            )
        },
        Quarantined({3: "UNQUOTED VALUE"}, ("receipt_id", "_source_line"), [("UC1", 2)]),
    ),
    Case(
        "field_of_10_mb",
        POS,
        {f"{POS_D1}/long_field.csv": text(POS_H, pos("BIG1"), pos("BIG2", item_name=LONG_ITEM))},
        Loaded(
            ("receipt_id", "length(item_name)", "_source_line"),
            [("BIG1", 3, 2), ("BIG2", len(LONG_ITEM), 3)],
        ),
    ),
    # --- JSON Lines -------------------------------------------------------------------------
    Case(
        "invalid_json_line_among_valid_ones",
        "social_events",
        {
            f"social_events/{D1}/social.jsonl": text(
                event("E1", text='好喝 🍵, "really"'), "{not json", "", event("E2")
            )
        },
        Quarantined(
            {2: "invalid JSON"},
            ("event_id", "text", "event_at", "_source_line"),
            [
                ("E1", '好喝 🍵, "really"', datetime(2025, 3, 1, 2, tzinfo=UTC), 1),
                ("E2", "nice", datetime(2025, 3, 1, 2, tzinfo=UTC), 4),
            ],
        ),
    ),
    Case(
        "json_line_not_an_object",
        "social_events",
        {f"social_events/{D1}/array.jsonl": text(event("E3"), '["E4", "weibo"]')},
        Quarantined({2: "not a JSON object"}, ("event_id", "_source_line"), [("E3", 1)]),
    ),
    Case(
        "json_line_without_a_required_key",
        "social_events",
        {
            f"social_events/{D1}/no_handle.jsonl": text(
                event("E5"),
                '{"event_id": "E6", "platform": "weibo", "event_type": "like", '
                '"event_at": "2025-03-01T10:00:00+08:00"}',
            )
        },
        Quarantined(
            {2: "column handle (handle): required value is empty"},
            ("event_id", "_source_line"),
            [("E5", 1)],
        ),
    ),
    # --- re-deliveries ----------------------------------------------------------------------
    Case(
        "duplicate_redelivery",
        POS,
        {f"{POS_D1}/redelivered.csv": REDELIVERED, f"{POS}/{D2}/redelivered.csv": REDELIVERED},
        Loaded(
            ("receipt_id", "_delivery_date"),
            [("DUP1", date(2025, 3, 1)), ("DUP2", date(2025, 3, 1))],
        ),
        loads=[
            (f"{POS_D1}/redelivered.csv", "loaded"),
            (f"{POS}/{D2}/redelivered.csv", "duplicate"),
        ],
    ),
    Case(
        # Both loads stay in raw (append-only); staging reads each receipt from its latest
        # delivery.
        "corrected_redelivery_in_a_later_folder",
        POS,
        {
            f"{POS_D1}/corrected.csv": text(POS_H, pos("COR1", line_amount="10.00")),
            f"{POS}/{D2}/corrected.csv": text(POS_H, pos("COR1", line_amount="8.00")),
        },
        Loaded(
            ("receipt_id", "line_amount", "_delivery_date"),
            [
                ("COR1", Decimal("10.00"), date(2025, 3, 1)),
                ("COR1", Decimal("8.00"), date(2025, 3, 2)),
            ],
        ),
    ),
    Case(
        "corrected_redelivery_under_the_same_name",
        "tmall_orders",
        {
            f"tmall_orders/{D1}/订单报表.csv": text(
                TMALL_H, "TO-C1,买家甲,100,100,2025-03-01 09:00:00,"
            )
        },
        Loaded(
            ("order_id", "total_amount", "paid_amount"),
            [("TO-C1", Decimal("100"), Decimal("100")), ("TO-C1", Decimal("100"), Decimal("90"))],
        ),
        loads=[(f"tmall_orders/{D1}/订单报表.csv", "loaded")] * 2,
        between_runs={
            f"tmall_orders/{D1}/订单报表.csv": text(
                TMALL_H, "TO-C1,买家甲,100,90,2025-03-01 09:00:00,"
            )
        },
    ),
    # --- dates, times, time zones ---------------------------------------------------------
    Case(
        "dates_in_several_formats",
        POS,
        {
            f"{POS_D1}/date_formats.csv": text(
                POS_H,
                pos("DF1", sale_date="2025-03-01", sale_time="9:05"),
                pos("DF2", sale_date="2025/03/01", sale_time="10:00:00"),
                pos("DF3", sale_date="01-03-2025", sale_time=" 10:00:00 "),
                pos("DF4", sale_date="2025-3-1"),
            )
        },
        Loaded(
            ("receipt_id", "sale_date", "sale_time"),
            [
                ("DF1", date(2025, 3, 1), time(9, 5)),
                ("DF2", date(2025, 3, 1), time(10)),
                ("DF3", date(2025, 3, 1), time(10)),
                ("DF4", date(2025, 3, 1), time(10)),
            ],
        ),
    ),
    Case(
        "dates_in_unlisted_formats",
        POS,
        {
            f"{POS_D1}/date_unlisted.csv": text(
                POS_H,
                pos("DU1", sale_date="03/01/2025"),
                pos("DU2", sale_date="20250301"),
                pos("DU3", sale_time="25:00"),
            )
        },
        Quarantined(
            {
                2: "cannot parse date from 03/01/2025",
                3: "cannot parse date from 20250301",
                4: "column sale_time (Time): cannot parse time from 25:00",
            }
        ),
    ),
    Case(
        # Shopify writes each timestamp with its own offset, which moves at a DST change.
        "timestamps_with_utc_offsets_across_dst",
        "shopify_orders",
        {
            f"shopify_orders/{D1}/orders_export_1.csv": text(
                SHOPIFY_H,
                "#TZ1,a@example.com,paid,USD,10.00,2025-03-09 01:59:59 -0500,1,Tee,10.00",
                "#TZ2,b@example.com,paid,USD,10.00,2025-03-09 03:00:00 -0400,1,Tee,10.00",
                "#TZ3,c@example.com,paid,CNY,10.00,2025-03-09 15:00:00 +0800,1,Tee,10.00",
            )
        },
        Loaded(
            ("order_name", "created_at"),
            [
                ("#TZ1", datetime(2025, 3, 9, 6, 59, 59, tzinfo=UTC)),
                ("#TZ2", datetime(2025, 3, 9, 7, 0, tzinfo=UTC)),
                ("#TZ3", datetime(2025, 3, 9, 7, 0, tzinfo=UTC)),
            ],
        ),
    ),
    Case(
        "local_timestamps_without_offset",
        "tmall_orders",
        {
            f"tmall_orders/{D1}/订单报表_local.csv": text(
                TMALL_H,
                "TO-L1,买家乙,50,50,2025-03-01 10:00:00,2025/03/01 10:05",
                "TO-L2,买家丙,50,0,2025/03/01 00:30,",
            )
        },
        Loaded(
            ("order_id", "created_at", "paid_at"),
            [
                (
                    "TO-L1",
                    datetime(2025, 3, 1, 2, tzinfo=UTC),
                    datetime(2025, 3, 1, 2, 5, tzinfo=UTC),
                ),
                ("TO-L2", datetime(2025, 2, 28, 16, 30, tzinfo=UTC), None),
            ],
        ),
    ),
    Case(
        "timestamps_with_a_z_suffix_or_fractions",
        "social_events",
        {
            f"social_events/{D1}/utc_z.jsonl": text(
                event("EZ1", event_at="2025-03-01T02:00:00Z"),
                event("EZ2", event_at="2025-03-01T10:00:00.250+08:00"),
                event("EZ3", event_at="2025-03-01 10:00:00"),
            )
        },
        Quarantined(
            {
                1: "cannot parse timestamp from 2025-03-01T02:00:00Z",
                2: "cannot parse timestamp from 2025-03-01T10:00:00.250+08:00",
            },
            ("event_id", "event_at"),
            [("EZ3", datetime(2025, 3, 1, 2, tzinfo=UTC))],
        ),
    ),
    Case(
        # Loaded at ingest; the raw__service_interactions suite refuses contacts dated after
        # the run day (GE, critical).
        "future_dates",
        "service_interactions",
        {
            f"service_interactions/{D1}/service.csv": text(
                SERVICE_H, "SR-F1,chat,2099-12-31 23:00:00,f@example.com,5,10"
            )
        },
        Loaded(
            ("interaction_id", "started_at"), [("SR-F1", datetime(2099, 12, 31, 15, tzinfo=UTC))]
        ),
    ),
    Case(
        # Loaded at ingest; the raw__shopify_orders suite refuses quantities below 1 (GE,
        # critical).
        "negative_quantity_without_a_refund",
        "shopify_orders",
        {
            f"shopify_orders/{D1}/orders_export_2.csv": text(
                SHOPIFY_H,
                "#NEG1,n@example.com,paid,USD,-20.00,2025-03-01 10:00:00 +0800,-2,Tee,10.00",
            )
        },
        Loaded(
            ("order_name", "financial_status", "lineitem_quantity", "total"),
            [("#NEG1", "paid", -2, Decimal("-20.00"))],
        ),
    ),
    # --- amounts ----------------------------------------------------------------------------
    Case(
        "amounts_with_currency_signs_and_thousands_separators",
        POS,
        {
            f"{POS_D1}/money.csv": text(
                POS_H,
                pos("M1", unit_price='"¥1,200.50"', line_amount="1200.50元"),
                pos("M2", unit_price='"$1,234.56"', line_amount="RMB 99"),
                pos("M3", unit_price="￥88", line_amount='"CNY1,000"'),
                pos("M4", unit_price="-¥5", line_amount="€0.5"),
            )
        },
        Loaded(
            ("receipt_id", "unit_price", "line_amount"),
            [
                ("M1", Decimal("1200.50"), Decimal("1200.50")),
                ("M2", Decimal("1234.56"), Decimal("99")),
                ("M3", Decimal("88"), Decimal("1000")),
                ("M4", Decimal("-5"), Decimal("0.50")),
            ],
        ),
    ),
    Case(
        "amounts_that_are_not_numbers",
        POS,
        {
            f"{POS_D1}/not_money.csv": text(
                POS_H,
                pos("NM1", unit_price="#VALUE!"),
                pos("NM2", unit_price='"1,5"'),  # decimal comma: not read as 15
                pos("NM3", unit_price="(12.50)"),
                pos("NM4", quantity="2.5"),  # not rounded to 3
            )
        },
        Quarantined(
            {
                2: "cannot parse decimal from #VALUE!",
                3: "cannot parse decimal from 1,5",
                4: "cannot parse decimal from (12.50)",
                5: "column quantity (Qty): cannot parse integer from 2.5",
            }
        ),
    ),
    # --- text, headers and file names ----------------------------------------------------
    Case(
        "emoji_and_chinese_in_names",
        "loyalty_members",
        {f"loyalty_members/{D1}/会员列表_emoji.csv": text(LOYALTY_H, member("M-EMO", "小雨🌧️茶"))},
        Loaded(("card_no", "member_name"), [("M-EMO", "小雨🌧️茶")]),
    ),
    Case(
        "quotes_semicolons_comments_and_sql_in_values",
        POS,
        {
            f"{POS_D1}/sql_values.csv": text(
                POS_H,
                pos("SV1", item_name='"Robert\'); DROP TABLE raw.loads; --"'),
                pos("SV2", item_name='"say ""hi""; select 1"', payment_method="--"),
                pos("SV3", item_name="' OR '1'='1", member_card="NULL"),
            )
        },
        Loaded(
            ("receipt_id", "item_name", "payment_method", "member_card"),
            [
                ("SV1", "Robert'); DROP TABLE raw.loads; --", "cash", None),
                ("SV2", 'say "hi"; select 1', "--", None),
                ("SV3", "' OR '1'='1", "cash", "NULL"),
            ],
        ),
    ),
    Case(
        # rowid is DuckDB's row id, which ingest orders by: the delivered column is kept
        # apart under DuckDB's name for a repeated header.
        "quotes_semicolons_comments_and_sql_in_headers",
        POS,
        {
            f"{POS_D1}/sql_headers.csv": text(
                POS_H + ',"x""; DROP TABLE raw.loads; --",select,it\'s;ok,rowid',
                pos("SH1") + ",a,b,c,9",
                pos("SH2") + ",d,e,f,1",
            )
        },
        Loaded(
            ("receipt_id", "_source_line"),
            [("SH1", 2), ("SH2", 3)],
            ignored_headers="x\"; DROP TABLE raw.loads; --, select, it's;ok, rowid_1",
        ),
    ),
    Case(
        "quotes_semicolons_comments_and_sql_in_a_file_name",
        POS,
        {f'{POS_D1}/x\'; DROP TABLE raw.loads; -- "q".csv': text(POS_H, pos("SF1"))},
        Loaded(
            ("receipt_id", "_source_file"),
            [("SF1", f'{POS_D1}/x\'; DROP TABLE raw.loads; -- "q".csv')],
        ),
    ),
    Case(
        "dot_dot_in_a_file_name",
        POS,
        {f"{POS_D1}/receipts..2025-03-01...csv": text(POS_H, pos("DD1"))},
        Loaded(("receipt_id", "_source_file"), [("DD1", f"{POS_D1}/receipts..2025-03-01...csv")]),
    ),
    Case(
        "file_name_not_utf8",
        POS,
        {f"{POS_D1}/{gbk_name('会员')}.csv": text(POS_H, pos("GBN1"))},
        Rejected("file name is not UTF-8 (rename it)", scan=True),
    ),
    # --- the landing layout -----------------------------------------------------------------
    Case(
        "symlink_to_an_absolute_path_outside_landing",
        POS,
        {
            f"{OUTSIDE}/secret.csv": text(POS_H, pos("OUT1")),
            f"{POS_D1}/linked.csv": Symlink(f"{OUTSIDE}/secret.csv"),
        },
        Rejected("symlink points outside the landing folder", scan=True),
    ),
    Case(
        "symlink_with_dot_dot_out_of_landing",
        POS,
        {
            f"{OUTSIDE}/secret2.csv": text(POS_H, pos("OUT2")),
            f"{POS_D1}/dotdot.csv": Symlink("../../../../outside/secret2.csv"),
        },
        Rejected("symlink points outside the landing folder", scan=True),
    ),
    Case(
        "delivery_folder_symlinked_outside_landing",
        "tmall_order_items",
        {
            f"{OUTSIDE}/items_day/宝贝报表.csv": text(ITEMS_H, "TI-OUT,茶,1,1"),
            f"{OUTSIDE}/items_day/_SUCCESS": b"",
            f"tmall_order_items/{D2}": Symlink(f"{OUTSIDE}/items_day"),
        },
        Rejected(
            "symlink points outside the landing folder",
            scan=True,
            file=f"tmall_order_items/{D2}/宝贝报表.csv",
        ),
    ),
    Case(
        "symlink_loop",
        POS,
        {f"{POS_D1}/loop.csv": Symlink("loop.csv")},
        Rejected("cannot resolve the path: Symlink loop", scan=True),
    ),
    Case(
        "dangling_symlink",
        POS,
        {f"{POS_D1}/moved.csv": Symlink("moved_away.csv")},
        Rejected("symlink points to nothing (dangling)", scan=True),
    ),
    Case(
        "file_outside_a_delivery_folder",
        POS,
        {f"{POS}/loose.csv": text(POS_H, pos("LOOSE1"))},
        Rejected("file is not inside a YYYY-MM-DD delivery folder", scan=True),
    ),
    Case(
        "delivery_folder_not_named_by_date",
        POS,
        {f"{POS}/latest/pos.csv": text(POS_H, pos("LATEST1"))},
        Rejected("delivery folder name is not a YYYY-MM-DD date", scan=True, file=f"{POS}/latest"),
    ),
    Case(
        # History is welcome: a folder of any plausible date loads, however old.
        "delivery_folder_of_long_ago_history",
        POS,
        {f"{POS}/1998-03-01/pos.csv": text(POS_H, pos("HIST1", sale_date="1998-02-27"))},
        Loaded(("receipt_id", "sale_date"), [("HIST1", date(1998, 2, 27))]),
    ),
    Case(
        "delivery_folder_dated_before_1990",
        POS,
        {f"{POS}/1899-12-30/pos.csv": text(POS_H, pos("OLD1"))},
        Rejected(
            "delivery folder dated 1899-12-30, before 1990-01-01: not a plausible delivery date",
            scan=True,
            file=f"{POS}/1899-12-30",
        ),
    ),
    Case(
        "delivery_folder_dated_in_the_future",
        POS,
        {f"{POS}/2099-01-01/pos.csv": text(POS_H, pos("FUTURE1"))},
        Rejected(
            "delivery folder dated 2099-01-01 is in the future",
            scan=True,
            file=f"{POS}/2099-01-01",
        ),
    ),
    Case(
        # Read only once the folder is complete (_SUCCESS, or quiet for
        # CRM_LANDING_QUIET_SECONDS): the first run leaves it alone.
        "file_still_being_written",
        "campaign_spend",
        {
            f"campaign_spend/{D3}/spend.csv": text(
                CAMPAIGN_H, "2025-03-03,tmall,spring,1200.00,CNY"
            )[:-20]
        },
        Loaded(
            ("campaign", "spend", "_source_line"),
            [("spring", Decimal("1200.00"), 2), ("summer", Decimal("300.00"), 3)],
        ),
        incomplete=(f"campaign_spend/{D3}",),
        between_runs={
            f"campaign_spend/{D3}/spend.csv": text(
                CAMPAIGN_H,
                "2025-03-03,tmall,spring,1200.00,CNY",
                "2025-03-03,social,summer,300.00,CNY",
            )
        },
    ),
    Case(
        "upload_still_named_part",
        "campaign_spend",
        {
            f"campaign_spend/{D1}/spend.csv.part": text(
                CAMPAIGN_H, "2025-03-01,shopify,launch,50,CNY"
            )
        },
        Loaded(("campaign", "spend"), [("launch", Decimal("50"))]),
        between_runs={
            f"campaign_spend/{D1}/spend.csv.part": None,
            f"campaign_spend/{D1}/spend.csv": text(CAMPAIGN_H, "2025-03-01,shopify,launch,50,CNY"),
        },
    ),
    Case("source_folder_with_no_files", "stores", {"stores": None}, Loaded(("store_id",), [])),
    Case("source_folder_missing", "fx_rates", {}, Loaded(("rate_date",), [])),
]

IDS = [c.id for c in CASES]
assert len(set(IDS)) == len(IDS), "case ids must be unique"
TWO_RUN_CASES = [c for c in CASES if c.between_runs]
REJECTING = {c.source for c in CASES if isinstance(c.outcome, Rejected)}


# --- the runs ------------------------------------------------------------------------------


@dataclass
class Run:
    failures: dict[str, str]  # step key -> failure message
    succeeded: set[str]  # step keys
    warehouse: duckdb.DuckDBPyConnection  # on a copy of the warehouse as the run left it
    landing_before: dict[str, str]
    landing_after: dict[str, str]


@dataclass
class Catalogue:
    first: Run
    second: Run


def _write(path: Path, content: bytes | Symlink | None, outside: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if content is None:
        path.mkdir(exist_ok=True)
    elif isinstance(content, Symlink):
        path.symlink_to(content.target.replace(OUTSIDE, str(outside)))
    else:
        path.write_bytes(content)


def _deliver(landing: Path, outside: Path) -> None:
    """Every case's files, each delivery folder with its _SUCCESS marker unless the case
    is still writing it."""
    for case in CASES:
        for relative, content in case.files.items():
            if relative.startswith(OUTSIDE):
                _write(outside / relative.removeprefix(OUTSIDE + "/"), content, outside)
                continue
            _write(landing / relative, content, outside)
            folder = str(Path(relative).parent)
            if len(Path(relative).parts) == 3 and folder not in case.incomplete:
                (landing / folder / "_SUCCESS").touch()


def _redeliver(landing: Path) -> None:
    """What the senders do between the runs: finish, rename or correct a file."""
    for case in TWO_RUN_CASES:
        for relative, content in case.between_runs.items():
            if content is None:
                (landing / relative).unlink()
            else:
                (landing / relative).write_bytes(content)
        for folder in case.incomplete:
            (landing / folder / "_SUCCESS").touch()


def _snapshot(*roots: Path) -> dict[str, str]:
    """Every entry under the roots: sha256 of a file, the target of a symlink."""
    entries = {}
    for root in roots:
        for folder, dirs, files in os.walk(root):
            for name in dirs + files:
                path = Path(folder) / name
                if path.is_symlink():
                    entries[str(path)] = "-> " + os.readlink(path)
                elif path.is_file():
                    entries[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
                else:
                    entries[str(path)] = "dir"
    return entries


def _run(landing: Path, outside: Path, copy_to: Path) -> Run:
    before = _snapshot(landing, outside)
    result = materialise_ingest(ingest_assets, raise_on_error=False)
    after = _snapshot(landing, outside)
    warehouse = get_settings().duckdb_path
    shutil.copyfile(warehouse, copy_to)
    wal = warehouse.with_suffix(".duckdb.wal")
    if wal.exists():
        shutil.copyfile(wal, copy_to.with_suffix(".duckdb.wal"))
    return Run(
        failures={
            e.step_key: e.event_specific_data.error.message
            for e in result.get_step_failure_events()
        },
        succeeded={e.step_key for e in result.get_step_success_events()},
        warehouse=duckdb.connect(str(copy_to), read_only=True),
        landing_before=before,
        landing_after=after,
    )


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalogue]:
    root = tmp_path_factory.mktemp("bad_input")
    data, outside = root / "data", root / "outside"
    with pytest.MonkeyPatch.context() as env:
        point_at(env, data, CRM_DUCKDB_MEMORY_LIMIT="1GB")
        # Every folder but the one still being written carries its _SUCCESS marker.
        env.setenv("CRM_LANDING_QUIET_SECONDS", "3600")
        landing = data / "landing"
        landing.mkdir(parents=True)
        outside.mkdir()
        _deliver(landing, outside)
        first = _run(landing, outside, root / "after_run_1.duckdb")
        _redeliver(landing)
        second = _run(landing, outside, root / "after_run_2.duckdb")
    yield Catalogue(first, second)
    first.warehouse.close()
    second.warehouse.close()


def _query(warehouse: duckdb.DuckDBPyConnection, sql: str, params: dict | None = None) -> list:
    return warehouse.execute(sql, params or {}).fetchall()


def _step(source: str) -> str:
    return f"raw__{source}"


# --- one test per case ----------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_bad_input_case(catalogue: Catalogue, case: Case):
    run = catalogue.second if case.between_runs else catalogue.first
    outcome = case.outcome
    named = outcome.file if isinstance(outcome, Rejected) and outcome.file else None
    files = [shown(f) for f in ([named] if named else case.data_files)]
    loads = _query(
        run.warehouse,
        "select file, status, rows_in, rows_loaded, rows_quarantined, error, encoding, "
        "ignored_headers from raw.loads where list_contains($f, file) order by started_at",
        {"f": files},
    )
    quarantine = _query(
        run.warehouse,
        "select line, reason, original_text from raw.quarantine where list_contains($f, file) "
        "order by line",
        {"f": files},
    )
    message = run.failures.get(_step(case.source), "")

    if isinstance(outcome, Rejected):
        for file in files:
            assert f"{file}: {outcome.cause}" in message, message
        if outcome.scan:
            assert loads == []
        else:
            assert [
                (f, s, e.startswith(f"{f}: {outcome.cause}")) for f, s, *_, e, _, _ in loads
            ] == [(f, "rejected", True) for f in files]
        in_raw = _query(
            run.warehouse,
            f"select count(*) from raw.{case.source} where list_contains($f, _source_file)",
            {"f": files},
        )
        assert (in_raw, quarantine) == ([(0,)], [])
        return

    if case.source not in REJECTING:
        assert _step(case.source) in run.succeeded
    assert not any(f"{f}: " in message for f in files), message
    assert [(f, s) for f, s, *_ in loads] == (case.loads or [(f, "loaded") for f in files])
    for _file, status, rows_in, rows_loaded, rows_quarantined, error, *_ in loads:
        assert error is None
        if status == "loaded":
            assert rows_in == rows_loaded + rows_quarantined
    rows = _query(
        run.warehouse,
        f"select {', '.join(outcome.columns)} from raw.{case.source} "
        "where list_contains($f, _source_file) order by _loaded_at, _source_file, _source_line",
        {"f": files},
    )
    assert rows == outcome.rows
    if isinstance(outcome, Loaded):
        assert quarantine == []
        if outcome.encoding is not None:
            assert {encoding for *_, encoding, _ in loads} == {outcome.encoding}
        if outcome.ignored_headers is not None:
            assert {ignored for *_, ignored in loads} == {outcome.ignored_headers}
    else:
        assert [line for line, *_ in quarantine] == sorted(outcome.lines)
        for line, reason, original_text in quarantine:
            assert outcome.lines[line] in reason, (line, reason)
            assert original_text


def test_two_run_cases_were_not_read_before_the_sender_finished(catalogue: Catalogue):
    """Before the second run the being-written and .part files were left alone, and the
    first version of a corrected file was loaded once."""
    for case in TWO_RUN_CASES:
        first_files = sorted(p for p, v in case.files.items() if isinstance(v, bytes))
        loads = _query(
            catalogue.first.warehouse,
            "select file, status from raw.loads where list_contains($f, file)",
            {"f": first_files},
        )
        expected = [(f, "loaded") for f in first_files if not f.endswith(".part")]
        if case.incomplete:
            expected = []
        assert loads == expected, case.id


# --- invariants of the whole run -------------------------------------------------------------


@pytest.mark.parametrize("which", ["first", "second"])
def test_row_accounting_holds_for_every_file(catalogue: Catalogue, which: str):
    """Per load: rows in = loaded + quarantined, and the tables hold exactly those rows; a
    duplicate or rejected file adds none, and a rejected one says which file and why."""
    warehouse = getattr(catalogue, which).warehouse
    in_raw = " union all ".join(
        f"select _load_id as load_id from raw.{source}" for source in load_contracts()
    )
    loads = _query(
        warehouse,
        "select l.file, l.status, l.rows_in, l.rows_loaded, l.rows_quarantined, l.error, "
        f"(select count(*) from ({in_raw}) as r where r.load_id = l.load_id), "
        "(select count(*) from raw.quarantine as q where q.load_id = l.load_id) "
        "from raw.loads as l",
    )
    assert {status for _, status, *_ in loads} == {"loaded", "duplicate", "rejected"}
    for file, status, rows_in, loaded, quarantined, error, in_raw_n, in_quarantine_n in loads:
        if status == "loaded":
            assert (rows_in, in_raw_n, in_quarantine_n) == (
                loaded + quarantined,
                loaded,
                quarantined,
            ), file
        else:
            assert (rows_in, loaded, quarantined, in_raw_n, in_quarantine_n) == (0,) * 5, file
        assert (status == "rejected") == (error is not None and error.startswith(f"{file}: "))
    # Every raw and quarantined row belongs to a recorded load.
    orphans = _query(
        warehouse,
        f"select count(*) from ({in_raw} union all select load_id from raw.quarantine) "
        "where load_id not in (select load_id from raw.loads)",
    )
    assert orphans == [(0,)]


@pytest.mark.parametrize("which", ["first", "second"])
def test_landing_files_are_never_modified_or_deleted(catalogue: Catalogue, which: str):
    run = getattr(catalogue, which)
    assert run.landing_before
    assert run.landing_after == run.landing_before


def test_a_rejected_file_fails_only_its_own_source(catalogue: Catalogue):
    """Sources with a rejected case fail their step and name every such file; the others
    succeed; either way every other file of the run was loaded in that same run."""
    run = catalogue.first
    assert set(run.failures) == {_step(s) for s in REJECTING}
    assert run.succeeded == {_step(s) for s in load_contracts()} - set(run.failures)
    loaded_cases = [c for c in CASES if not isinstance(c.outcome, Rejected) and not c.between_runs]
    assert {c.source for c in loaded_cases} & REJECTING, "no failing source has good files"
    for case in loaded_cases:
        files = case.data_files
        statuses = _query(
            run.warehouse,
            "select file, status from raw.loads where list_contains($f, file) order by started_at",
            {"f": files},
        )
        assert statuses == (case.loads or [(f, "loaded") for f in files]), case.id


def test_a_rerun_reloads_nothing_and_retries_the_rejected(catalogue: Catalogue):
    """The second run adds loads only for the files the senders changed; every earlier load
    stays as it was, and each rejected file is still rejected once, not twice."""
    columns = "load_id, file, status, rows_in, rows_loaded, rows_quarantined, started_at"
    first = _query(
        catalogue.first.warehouse, f"select {columns} from raw.loads where status <> 'rejected'"
    )
    second = _query(
        catalogue.second.warehouse, f"select {columns} from raw.loads where status <> 'rejected'"
    )
    delivered = {f for c in TWO_RUN_CASES for f, v in c.between_runs.items() if v is not None}
    assert set(first) <= set(second)
    assert {file for _, file, *_ in set(second) - set(first)} == delivered
    rejected = [
        _query(w, "select file, error from raw.loads where status = 'rejected' order by file")
        for w in (catalogue.first.warehouse, catalogue.second.warehouse)
    ]
    assert rejected[0] and rejected[0] == rejected[1]


# --- the document ----------------------------------------------------------------------------


def test_every_case_has_one_row_in_docs_bad_input_md():
    rows = re.findall(r"^\| `([a-z0-9_]+)` \|", DOC.read_text(encoding="utf-8"), flags=re.M)
    assert sorted(rows) == sorted(IDS)
