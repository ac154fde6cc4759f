"""Landing discovery and encoding detection."""

from __future__ import annotations

import gzip
from datetime import date
from pathlib import Path

import pytest

from pipelines.lib.landing import LandingError, LandingFile, detect_encoding, discover


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


def test_discover_missing_source_is_empty(tmp_path: Path):
    assert discover(tmp_path, "nothing") == ([], [])
