"""Export mappings (generic_orders): what a merchant can get wrong is refused with the file
and the key; a mapped file loads through the ordinary ingest, by its mapping's headers,
formats, constants and status meanings."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines.lib.contracts import get_contract
from pipelines.lib.ingest import ensure_raw_tables, load_file
from pipelines.lib.landing import LandingFile
from pipelines.lib.mappings import (
    MappingError,
    contract_for,
    load_mappings,
    mapping_for,
    read_mapping,
)
from pipelines.settings import PROJECT_ROOT

GENERIC = get_contract("generic_orders")
EXAMPLES = PROJECT_ROOT / "docs" / "examples"

MINIMAL = {
    "export": "woo",
    "currency": "EUR",
    "files": [
        {
            "match": "orders-*.csv",
            "grain": "order_line",
            "columns": {"order_id": "Order Number", "ordered_at": "Order Date"},
        }
    ],
}


def _write(tmp_path: Path, doc, name: str = "woo.mapping.yml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _with(**changes) -> dict:
    doc = yaml.safe_load(yaml.safe_dump(MINIMAL))
    doc.update(changes)
    return doc


def _with_file(**changes) -> dict:
    doc = _with()
    doc["files"][0].update(changes)
    return doc


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_with(export="Woo Shop"), "woo.mapping.yml: export: a name in lower case letters"),
        (_with(channel="tv"), "channel: must be one of online, store, not 'tv'"),
        (_with(currency=None), "currency: say the export's currency, or map a currency column"),
        (_with(currency="euro"), "currency: an ISO 4217 code such as EUR is expected"),
        (_with(currency_code="EUR"), "unknown key(s) ['currency_code']"),
        (_with(files=[]), "files: list at least one file"),
        (_with_file(grain="invoice"), "files[0].grain: must be one of order, order_line, customer"),
        (_with_file(match=""), "files[0].match: a file-name pattern is required"),
        (
            _with_file(columns={"order_id": "Order Number", "odered_at": "Order Date"}),
            "files[0].columns.odered_at: unknown field; the fields are",
        ),
        (
            _with_file(columns={"order_id": "Number", "ordered_at": "Date", "person_ref": "P"}),
            "files[0].columns.person_ref: a order_line file cannot carry person_ref",
        ),
        (
            _with_file(columns={"order_id": "Order Number"}),
            "files[0].columns: a order_line file must map ordered_at",
        ),
        (
            _with_file(
                columns={
                    "order_id": "N",
                    "ordered_at": "D",
                    "quantity": {"header": "Q", "formats": ["%d"]},
                }
            ),
            "files[0].columns.quantity: formats apply to timestamps and dates",
        ),
        (
            _with_file(columns={"order_id": "N", "ordered_at": "D", "status": "State"}),
            "statuses: a status column is mapped, so say what its values mean",
        ),
        (
            _with(statuses={"paid": ["completed"], "shipped": ["sent"]}),
            "statuses.shipped: must be one of paid, pending, cancelled",
        ),
        (
            _with(statuses={"paid": ["completed"], "cancelled": ["Completed"]}),
            "'Completed' is listed as paid and cancelled",
        ),
    ],
)
def test_a_mapping_a_merchant_got_wrong_is_refused_with_file_and_key(tmp_path, doc, message):
    with pytest.raises(MappingError) as refused:
        read_mapping(_write(tmp_path, doc), GENERIC)
    assert message in str(refused.value)
    assert str(refused.value).startswith("woo.mapping.yml: ")


def test_the_shipped_examples_are_valid_mappings():
    for path in sorted(EXAMPLES.glob("*.mapping.yml")):
        mapping = read_mapping(path, GENERIC)
        assert mapping.export == path.name.removesuffix(".mapping.yml")


def test_two_mappings_of_one_export_and_files_two_mappings_claim_are_refused(tmp_path):
    _write(tmp_path, MINIMAL, "a.mapping.yml")
    _write(tmp_path, MINIMAL, "b.mapping.yml")
    _write(tmp_path, _with(export="shop"), "c.mapping.yml")
    (tmp_path / "d.mapping.yml").write_text("export: [woo\n", encoding="utf-8")
    mappings, problems = load_mappings(tmp_path, GENERIC)
    assert [m.export for m in mappings] == ["shop"]
    assert "generic_orders/a.mapping.yml, b.mapping.yml: each names export 'woo'" in problems[1]
    assert problems[0].startswith("generic_orders/d.mapping.yml: not readable YAML")
    both = [read_mapping(tmp_path / "a.mapping.yml", GENERIC), mappings[0]]
    with pytest.raises(MappingError, match="several mappings match this file name"):
        mapping_for("orders-2024.csv", both)
    with pytest.raises(MappingError, match="no mapping file matches this file name"):
        mapping_for("refunds.csv", both)


# --- loading through a mapping ------------------------------------------------------------


def _load(tmp_path: Path, mapping_path: Path, file: Path, delivered: date = date(2024, 1, 2)):
    """One file through load_file with the contract its mapping makes; returns the result
    and the connection."""
    mapping = read_mapping(mapping_path, GENERIC)
    _, spec = mapping_for(file.name, [mapping])
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ensure_raw_tables(con, GENERIC)
    landing = LandingFile(
        "generic_orders", file, f"generic_orders/{delivered}/{file.name}", delivered
    )
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    result = load_file(
        con, contract_for(GENERIC, mapping, spec), landing, temp, content_salt=mapping.digest
    )
    return result, con


def test_uci_online_retail_loads_by_its_example_mapping(tmp_path, real_exports):
    """The first UCI sample: M/D/YYYY H:MM dates without zero padding, credit notes with
    negative quantities, a row without CustomerID (CRLF, ASCII)."""
    file = tmp_path / "online_retail_first1104rows.csv"
    shutil.copyfile(real_exports / "uci_online_retail" / file.name, file)
    result, con = _load(tmp_path, EXAMPLES / "uci_online_retail.mapping.yml", file)
    assert (result.status, result.rows_in, result.rows_loaded) == ("loaded", 1104, 1104)
    first = con.execute(
        "select export_name, record_type, channel, order_id, ordered_at, currency, quantity, "
        "unit_price, customer_ref, country from raw.generic_orders where _source_line = 2"
    ).fetchone()
    assert first == (
        "uci_online_retail",
        "order_line",
        "online",
        "536365",
        datetime(2010, 12, 1, 8, 26, tzinfo=UTC),  # London is on UTC in December
        "GBP",
        6,
        Decimal("2.55"),
        "17850",
        "United Kingdom",
    )
    invoices, credit_notes, anonymous = con.execute(
        "select count(distinct order_id), count(distinct order_id) filter (where quantity < 0), "
        "count(*) filter (where customer_ref is null) from raw.generic_orders"
    ).fetchone()
    assert (invoices, anonymous) == (68, 1)  # README: 68 invoices, 1 row without CustomerID
    assert credit_notes == 4  # the C-invoices of the 10 cancellation rows


def test_online_retail_ii_loads_by_the_same_mapping(tmp_path, real_exports):
    """Online Retail II names the columns Invoice / Price / Customer ID, is UTF-8 with BOM
    and has no newline at EOF: the mapping lists both spellings."""
    file = tmp_path / "online_retail_II_first99rows.csv"
    shutil.copyfile(real_exports / "uci_online_retail" / file.name, file)
    result, con = _load(tmp_path, EXAMPLES / "uci_online_retail.mapping.yml", file)
    assert (result.status, result.rows_loaded, result.encoding) == ("loaded", 99, "utf-8-sig")
    assert con.execute(
        "select count(distinct order_id), count(customer_ref), min(ordered_at) "
        "from raw.generic_orders"
    ).fetchone() == (14, 99, datetime(2010, 12, 1, 8, 26, tzinfo=UTC))


def test_an_unlisted_status_or_bad_value_quarantines_the_row_with_its_reason(tmp_path):
    mapping = _write(
        tmp_path,
        _with_file(
            columns={
                "order_id": "Order Number",
                "ordered_at": {"header": "Order Date", "formats": ["%d.%m.%Y %H:%M"]},
                "status": "State",
                "quantity": "Qty",
            }
        )
        | {"statuses": {"paid": ["completed"], "cancelled": ["Cancelled", "failed"]}},
    )
    file = tmp_path / "orders-2024-01.csv"
    file.write_text(
        "Order Number,Order Date,State,Qty\n"
        "1,02.01.2024 10:00, Completed ,2\n"
        "2,02.01.2024 11:00,on-hold,1\n"
        "3,2024-01-02,failed,1\n"
        "4,02.01.2024 12:00,CANCELLED,one\n",
        encoding="utf-8",
    )
    result, con = _load(tmp_path, mapping, file)
    assert (result.rows_loaded, result.rows_quarantined) == (1, 3)
    assert con.execute("select order_id, status from raw.generic_orders").fetchall() == [
        ("1", "paid")
    ]
    reasons = dict(con.execute("select line, reason from raw.quarantine order by line").fetchall())
    assert reasons == {
        3: "column status (State): on-hold is not a value listed in woo.mapping.yml",
        4: "column ordered_at (Order Date): cannot parse timestamp from 2024-01-02",
        5: "column quantity (Qty): cannot parse integer from one",
    }


def test_a_mapped_header_missing_from_the_file_rejects_it_by_name(tmp_path):
    mapping = _write(
        tmp_path,
        _with_file(
            columns={"order_id": "Order Number", "ordered_at": "Order Date", "email": "E-mail"}
        ),
    )
    file = tmp_path / "orders-1.csv"
    file.write_text(
        "Order Number,Order Date,Email\n1,2024-01-02 10:00:00,a@b.cn\n", encoding="utf-8"
    )
    result, _ = _load(tmp_path, mapping, file)
    assert result.status == "rejected"
    assert result.error == (
        "generic_orders/2024-01-02/orders-1.csv: mapped header(s) not in the file: email "
        "(E-mail); delivered header: Order Number, Order Date, Email"
    )


def test_a_changed_mapping_reads_the_same_file_again(tmp_path):
    """The mapping is part of what a file means: with another mapping the same bytes are a
    new load (which supersedes the old by key), with the same one they are skipped."""
    mapping = _write(tmp_path, MINIMAL)
    file = tmp_path / "orders-1.csv"
    file.write_text("Order Number,Order Date\n1,2024-01-02 10:00:00\n", encoding="utf-8")
    first, con = _load(tmp_path, mapping, file)
    con.close()
    again, con = _load(tmp_path, mapping, file)
    con.close()
    _write(tmp_path, _with(currency="USD"))
    changed, con = _load(tmp_path, mapping, file)
    assert (first.status, again.status, changed.status) == ("loaded", "skipped", "loaded")
    assert con.execute(
        "select currency from raw.generic_orders order by _loaded_at"
    ).fetchall() == [
        ("EUR",),
        ("USD",),
    ]
