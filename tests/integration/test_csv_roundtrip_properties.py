"""CSV ingest round-trips generated files exactly (hypothesis).

Any table a merchant's tool can write as RFC 4180 CSV (commas, quotes, line breaks, CJK
and emoji inside values; Windows or Unix line ends; with or without a UTF-8 BOM; money
with currency signs and thousands separators) must come back from raw.products value for
value, in file order, with every record on its own record number and nothing
quarantined. The file goes through the real loader (pipelines.lib.ingest.load_file) into
a DuckDB file. Examples are derandomised: every run tries the same files.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.lib.contracts import get_contract
from pipelines.lib.ingest import ensure_raw_tables, load_file
from pipelines.lib.landing import LandingFile

CONTRACT = get_contract("products")
DELIVERY = date(2025, 3, 1)

# Everything a value can hold in a quoted CSV field, the separators included.
CHARACTERS = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    st.sampled_from(',"\n\r\t;--张伟茶杯（大号）🍵é™'),
)
TEXT = st.text(alphabet=CHARACTERS, max_size=40)
# A required value must hold something besides spaces (blank required values are
# quarantined, by design).
REQUIRED_TEXT = st.builds(lambda head, tail: head + tail, st.sampled_from("AZ张🍵"), TEXT)
AMOUNT = st.decimals(
    min_value=Decimal("-999999.99"), max_value=Decimal("999999.99"), places=2
).filter(lambda d: d.is_finite())


def money_styles(amount: Decimal) -> list[str]:
    """The ways real exports write one amount (ingest strips the noise)."""
    plain = f"{amount:.2f}"
    if amount < 0:
        return [plain, f"{amount:,.2f}"]
    grouped = f"{amount:,.2f}"
    return [plain, grouped, f"¥{grouped}", f"{plain}元", f"RMB {plain}", f"${grouped}"]


@st.composite
def product_rows(draw) -> list[dict]:
    rows = []
    for i in range(draw(st.integers(min_value=1, max_value=12))):
        amounts = [draw(AMOUNT | st.none()) for _ in range(2)]
        rows.append(
            {
                # unique, as the contract's key
                "sku": f"SKU{i}-{draw(TEXT)}",
                "product_name": draw(REQUIRED_TEXT),
                "category": draw(TEXT),
                "brand": draw(TEXT),
                "amounts": amounts,
                "written_amounts": [
                    "" if a is None else draw(st.sampled_from(money_styles(a))) for a in amounts
                ],
                "currency": draw(st.sampled_from(["CNY", "USD", ""])),
            }
        )
    return rows


def csv_field(value: str, quote_all: bool) -> str:
    """RFC 4180: a field holding a comma, a quote, CR or LF is quoted, quotes doubled.
    (Python's csv.writer leaves a lone CR unquoted when the line end is LF.)"""
    if quote_all or any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def write_csv(rows: list[dict], line_end: str, quote_all: bool) -> str:
    records = [[c.canonical_header for c in CONTRACT.columns]]
    for r in rows:
        text = [r["sku"], r["product_name"], r["category"], r["brand"]]
        records.append([*text, *r["written_amounts"], r["currency"]])
    return "".join(
        ",".join(csv_field(v, quote_all) for v in record) + line_end for record in records
    )


@pytest.fixture
def warehouse(tmp_path: Path):
    (tmp_path / "tmp").mkdir()
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield con, tmp_path
    con.close()


@settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=product_rows(),
    line_end=st.sampled_from(["\n", "\r\n"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig"]),
    quote_all=st.booleans(),
)
def test_a_generated_csv_loads_back_value_for_value(
    warehouse, rows, line_end, encoding, quote_all
) -> None:
    con, folder = warehouse
    con.execute("drop schema if exists raw cascade")
    ensure_raw_tables(con, CONTRACT)
    # a new name per example: a path and content loaded before would be skipped
    name = f"products_{abs(hash((repr(rows), line_end, encoding, quote_all)))}.csv"
    path = folder / "landing" / "products" / DELIVERY.isoformat() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(write_csv(rows, line_end, quote_all).encode(encoding))
    file = LandingFile("products", path, f"products/{DELIVERY}/{name}", DELIVERY)

    result = load_file(con, CONTRACT, file, folder / "tmp")

    assert (result.status, result.rows_in, result.rows_quarantined) == ("loaded", len(rows), 0)
    loaded = con.execute(
        "select sku, product_name, category, brand, list_price, unit_cost, currency, "
        "_source_line from raw.products order by _source_line"
    ).fetchall()
    expected = [
        (
            r["sku"],
            r["product_name"],
            r["category"] or None,  # an empty field is a missing value
            r["brand"] or None,
            *r["amounts"],
            r["currency"] or None,
            line,  # the header is record 1
        )
        for line, r in enumerate(rows, start=2)
    ]
    assert loaded == expected
