"""Landing discovery and encoding detection."""

from __future__ import annotations

import gzip
import os
import time
from datetime import date
from pathlib import Path

import pytest

from pipelines.lib.landing import (
    DELIVERY_MARKER,
    DateBounds,
    LandingError,
    LandingFile,
    detect_encoding,
    discover,
    unknown_source_folders,
    waiting_folders,
)


def _lf(path: Path) -> LandingFile:
    return LandingFile("s", path, path.name, date(2025, 1, 1))


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("订单编号,买家会员名\n1,张三\n".encode("utf-8-sig"), "utf-8-sig"),
        ("订单编号,买家会员名\n1,张三\n".encode(), "utf-8"),
        ("订单编号,买家会员名\n1,张三\n".encode("gbk"), "gb18030"),
        (b"a,b\n1,2\n", "utf-8"),
    ],
)
def test_detect_encoding(tmp_path: Path, payload: bytes, expected: str):
    path = tmp_path / "f.csv"
    path.write_bytes(payload)
    assert detect_encoding(_lf(path)) == expected


def test_detect_encoding_reads_through_gzip(tmp_path: Path):
    path = tmp_path / "f.csv.gz"
    path.write_bytes(gzip.compress("名字\n张三\n".encode("gbk")))
    assert detect_encoding(_lf(path)) == "gb18030"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x00\x01\x02binary", "binary content"),
        ("a,b\n".encode("utf-16"), "UTF-16"),
        (b"abc\xff\x80" * 10, "not UTF-8 and not GBK"),
    ],
)
def test_unreadable_encodings_name_the_file(tmp_path: Path, payload: bytes, message: str):
    path = tmp_path / "bad.csv"
    path.write_bytes(payload)
    with pytest.raises(LandingError, match=message) as err:
        detect_encoding(_lf(path))
    assert "bad.csv" in str(err.value)


def test_discover_orders_by_delivery_and_ignores_partial_files(tmp_path: Path):
    for rel in [
        "pos/2025-01-02/b.csv",
        "pos/2025-01-01/a.csv",
        "pos/2025-01-01/a.csv.part",  # still being written
        "pos/2025-01-01/.hidden.csv",
        "pos/2025-01-01/notes.txt",
    ]:
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    files, problems = discover(tmp_path, "pos")
    assert [f.relative_path for f in files] == ["pos/2025-01-01/a.csv", "pos/2025-01-02/b.csv"]
    assert [p.relative_path for p in problems] == ["pos/2025-01-01/notes.txt"]
    assert files[0].delivery_date == date(2025, 1, 1)


def test_discover_keeps_the_window(tmp_path: Path):
    for day in ("2025-01-01", "2025-01-02", "2025-01-03"):
        _deliver(tmp_path, f"pos/{day}/sales.csv")
    window = (date(2025, 1, 2), date(2025, 1, 3))
    files, problems = discover(tmp_path, "pos", window=window)
    assert [f.relative_path for f in files] == [
        "pos/2025-01-02/sales.csv",
        "pos/2025-01-03/sales.csv",
    ]
    assert problems == []


def test_history_of_any_plausible_date_loads_and_the_rest_is_reported(tmp_path: Path):
    today = date(2026, 12, 5)
    for day in (
        "1899-12-30",  # Excel's day zero
        "1990-01-01",
        "2017-05-31",
        "2026-12-06",  # tomorrow: the merchant's day may start before ours
        "2026-12-08",
        "20250101",  # a date, but not the layout's YYYY-MM-DD
        "2025-02-30",
    ):
        _deliver(tmp_path, f"pos/{day}/sales.csv")
    files, problems = discover(tmp_path, "pos", bounds=DateBounds(today=today))
    assert [f.relative_path for f in files] == [
        "pos/1990-01-01/sales.csv",
        "pos/2017-05-31/sales.csv",
        "pos/2026-12-06/sales.csv",
    ]
    # Never loadable by any run: reported whatever the window, not skipped in silence.
    assert [(p.relative_path, p.reason.split(":")[0]) for p in problems] == [
        ("pos/1899-12-30", "delivery folder dated 1899-12-30, before 1990-01-01"),
        ("pos/2025-02-30", "delivery folder name is not a YYYY-MM-DD date"),
        ("pos/20250101", "delivery folder name is not a YYYY-MM-DD date"),
        (
            "pos/2026-12-08",
            "delivery folder dated 2026-12-08 is in the future (today is 2026-12-05)",
        ),
    ]


def test_an_optional_floor_reports_earlier_folders(tmp_path: Path):
    for day in ("2019-12-31", "2020-01-01"):
        _deliver(tmp_path, f"pos/{day}/sales.csv")
    bounds = DateBounds(today=date(2026, 12, 5), floor=date(2020, 1, 1))
    files, problems = discover(tmp_path, "pos", bounds=bounds)
    assert [f.relative_path for f in files] == ["pos/2020-01-01/sales.csv"]
    assert [(p.relative_path, p.reason) for p in problems] == [
        (
            "pos/2019-12-31",
            "delivery folder dated before CRM_LANDING_FLOOR 2020-01-01 (set it earlier, or "
            "unset it, to load it)",
        )
    ]


def test_waiting_folders_say_what_is_left_for_later_and_why(tmp_path: Path):
    now = time.time()
    _deliver(tmp_path, "pos/2025-01-01/old.csv", age_seconds=600)
    _deliver(tmp_path, "pos/2025-01-02/copying.csv", age_seconds=12)
    _deliver(tmp_path, "tmall_orders/2025-01-02/copying.csv", age_seconds=12)
    _deliver(tmp_path, "pos/2025-01-03/done.csv")
    (tmp_path / "pos" / "2025-01-03" / DELIVERY_MARKER).touch()
    _deliver(tmp_path, "pos/2099-01-01/future.csv")  # reported by ingest, not "waiting"

    bounds = DateBounds(today=date(2026, 12, 5))
    waiting = waiting_folders(tmp_path, 300, sources={"pos"}, bounds=bounds, now=now)

    assert [w.relative_path for w in waiting] == ["pos/2025-01-02"]
    assert waiting[0].reason == (
        "changed 12 s ago and no _SUCCESS marker; it is read once unchanged for 300 s, "
        "or when _SUCCESS is added"
    )
    assert waiting_folders(tmp_path, None) == []  # every folder counts as complete
    assert waiting_folders(tmp_path, 300, window=(date(2025, 1, 3), date(2025, 1, 3))) == []


def test_folders_of_no_known_source_are_listed(tmp_path: Path):
    _deliver(tmp_path, "shopify_order/2025-01-01/orders_export_1.csv")  # a typo
    _deliver(tmp_path, "pos/2025-01-01/sales.csv")
    (tmp_path / ".cache").mkdir()
    assert unknown_source_folders(tmp_path, {"pos", "shopify_orders"}) == ["shopify_order"]


def test_discover_missing_source_is_empty(tmp_path: Path):
    assert discover(tmp_path, "nothing") == ([], [])


def _deliver(root: Path, rel: str, age_seconds: float = 0.0) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    stamp = time.time() - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def test_an_incomplete_delivery_folder_is_left_for_later(tmp_path: Path):
    _deliver(tmp_path, "pos/2025-01-01/old.csv", age_seconds=600)
    _deliver(tmp_path, "pos/2025-01-02/copying.csv")  # just written, no marker
    _deliver(tmp_path, "pos/2025-01-03/done.csv")
    (tmp_path / "pos" / "2025-01-03" / DELIVERY_MARKER).touch()

    files, problems = discover(tmp_path, "pos", quiet_seconds=300)

    assert [f.relative_path for f in files] == ["pos/2025-01-01/old.csv", "pos/2025-01-03/done.csv"]
    assert problems == []
    later = time.time() + 301
    files, _ = discover(tmp_path, "pos", quiet_seconds=300, now=later)
    assert len(files) == 3


def test_the_landing_sensor_announces_each_complete_delivery_once(tmp_path: Path, monkeypatch):
    import dagster as dg

    from pipelines.defs.ingest.sensors import landing_sensor

    monkeypatch.setenv("CRM_LANDING_DIR", str(tmp_path))
    monkeypatch.setenv("CRM_LANDING_QUIET_SECONDS", "300")
    _deliver(tmp_path, "shopify_orders/2025-01-01/orders_export_1.csv")

    with dg.instance_for_test() as instance:

        def evaluate(cursor):
            # Entered and left, so the instance the context opens from the ref is closed.
            with dg.build_sensor_context(instance=instance, cursor=cursor) as context:
                return landing_sensor(context), context.cursor

        result, cursor = evaluate(None)
        assert isinstance(result, dg.SkipReason)  # still being copied
        (tmp_path / "shopify_orders" / "2025-01-01" / DELIVERY_MARKER).touch()
        result, cursor = evaluate(cursor)
        (request,) = result.run_requests
        assert request.tags["crm/deliveries"] == "shopify_orders/2025-01-01"
        # The landing date becomes a partition, and the run covers it.
        (added,) = result.dynamic_partitions_requests
        assert (added.partitions_def_name, added.partition_keys) == ("landing_date", ["2025-01-01"])
        assert request.tags["dagster/asset_partition_range_start"] == "2025-01-01"
        assert request.tags["dagster/asset_partition_range_end"] == "2025-01-01"
        instance.add_dynamic_partitions("landing_date", ["2025-01-01"])  # as the daemon does
        result, cursor = evaluate(cursor)
        assert isinstance(result, dg.SkipReason)  # nothing new
        _deliver(tmp_path, "shopify_orders/2025-01-01/orders_export_1.csv")  # corrected file
        os.utime(tmp_path / "shopify_orders/2025-01-01/orders_export_1.csv", ns=(1, 1))
        result, _ = evaluate(cursor)
        (request,) = result.run_requests  # the corrected delivery is announced again
        assert result.dynamic_partitions_requests == []  # its date is known already
