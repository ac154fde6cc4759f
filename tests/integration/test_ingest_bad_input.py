"""Bad deliveries end in exactly one of: loaded, rows quarantined with a reason, or the
file rejected with a message naming file and cause. Row accounting always holds."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import dagster as dg
import pytest

from pipelines.defs.ingest.assets import ingest_assets
from pipelines.lib.contracts import get_contract
from pipelines.settings import connect
from tests.conftest import materialise_ingest

POS = get_contract("pos_transactions")
HEADER = ",".join(c.canonical_header for c in POS.columns)
GOOD = "S01,R1,1,2025-03-01,10:00:00,SKU1,Tea,2,5.00,0,10.00,cash,,13800138000"


def _file(landing: Path, source: str, day: str, name: str, text: str, encoding="utf-8") -> Path:
    path = landing / source / day / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def _run(source: str) -> dg.ExecuteInProcessResult:
    asset = next(a for a in ingest_assets if a.key.path[-1] == source)
    return materialise_ingest([asset], raise_on_error=False)


def _loads(source: str) -> list[tuple]:
    with connect(read_only=True) as con:
        return con.execute(
            "select file, status, rows_in, rows_loaded, rows_quarantined, error from raw.loads "
            "where source = $s order by file",
            {"s": source},
        ).fetchall()


def test_malformed_rows_are_quarantined_with_line_and_reason(data_dir: Path):
    landing = data_dir / "landing"
    lines = [
        HEADER,
        GOOD,
        "S01,R2,1,2025-03-01,10:05:00,SKU1,Tea,1,5.00",  # wrong column count
        "S01,R3,1,2025-02-30,10:06:00,SKU1,Tea,1,5.00,0,5.00,cash,,",  # impossible date
        'S01,R4,1,2025-03-01,10:07:00,SKU1,"Tea\nwith note",1,abc,0,5.00,cash,,',  # bad amount
        'S01,R5,1,2025-03-01,10:08:00,SKU2,Cake,1,"¥1,200.50",0,1200.50元,alipay,C1,',
    ]
    _file(landing, "pos_transactions", "2025-03-01", "pos.csv", "\n".join(lines) + "\n")
    assert _run("pos_transactions").success
    [(_path, status, rows_in, loaded, quarantined, error)] = _loads("pos_transactions")
    assert (status, rows_in, loaded, quarantined, error) == ("loaded", 5, 2, 3, None)
    with connect(read_only=True) as con:
        q = con.execute("select line, reason from raw.quarantine order by line").fetchall()
        ok = con.execute(
            "select receipt_id, _source_line, unit_price, line_amount from raw.pos_transactions "
            "order by _source_line"
        ).fetchall()
    assert [line for line, _ in q] == [3, 4, 5]
    assert "MISSING COLUMNS" in q[0][1]
    assert "column sale_date (Date): cannot parse date from 2025-02-30" in q[1][1]
    assert "column unit_price (Unit Price): cannot parse decimal from abc" in q[2][1]
    # Currency signs and thousands separators are money noise, not errors.
    assert [(r, ln, str(p), str(a)) for r, ln, p, a in ok] == [
        ("R1", 2, "5.00", "10.00"),
        ("R5", 6, "1200.50", "1200.50"),
    ]


def test_unreadable_file_fails_the_asset_but_other_files_load(data_dir: Path):
    landing = data_dir / "landing"
    _file(landing, "pos_transactions", "2025-03-01", "good.csv", f"{HEADER}\n{GOOD}\n")
    _file(
        landing, "pos_transactions", "2025-03-01", "semicolons.csv", HEADER.replace(",", ";") + "\n"
    )
    _file(landing, "pos_transactions", "2025-03-01", "empty.csv", "")
    gz = landing / "pos_transactions" / "2025-03-02" / "cut.csv.gz"
    gz.parent.mkdir(parents=True)
    gz.write_bytes(gzip.compress(f"{HEADER}\n{GOOD}\n".encode() * 200)[:300])
    result = _run("pos_transactions")
    assert not result.success
    message = result.get_step_failure_events()[0].event_specific_data.error.message
    assert (
        "pos_transactions/2025-03-01/semicolons.csv: missing required column(s): receipt_id"
        in message
    )
    assert "pos_transactions/2025-03-01/empty.csv: empty file" in message
    assert "pos_transactions/2025-03-02/cut.csv.gz" in message
    statuses = {Path(f).name: s for f, s, *_ in _loads("pos_transactions")}
    assert statuses == {
        "good.csv": "loaded",
        "semicolons.csv": "rejected",
        "empty.csv": "rejected",
        "cut.csv.gz": "rejected",
    }
    with connect(read_only=True) as con:
        assert con.execute("select count(*) from raw.pos_transactions").fetchone()[0] == 1


def test_gbk_and_bom_files_are_detected(data_dir: Path):
    landing = data_dir / "landing"
    members = get_contract("loyalty_members")
    header = ",".join(c.canonical_header for c in members.columns)
    row = "M001,张伟,男,1990-05-01,教师,上海,13800138000,zw@example.com,2024-01-01,是"
    _file(landing, "loyalty_members", "2025-03-01", "会员列表.csv", f"{header}\n{row}\n", "gbk")
    _file(
        landing,
        "loyalty_members",
        "2025-03-02",
        "会员列表.csv",
        f"{header}\n{row.replace('M001', 'M002')}\n",
        "utf-8-sig",
    )
    assert _run("loyalty_members").success
    with connect(read_only=True) as con:
        rows = con.execute(
            "select card_no, member_name, gender, marketing_consent from raw.loyalty_members order by 1"
        ).fetchall()
        encodings = [
            e for (e,) in con.execute("select encoding from raw.loads order by file").fetchall()
        ]
    assert rows == [("M001", "张伟", "男", True), ("M002", "张伟", "男", True)]
    assert sorted(encodings) == ["gb18030", "utf-8-sig"]


def test_invalid_json_line_is_quarantined(data_dir: Path):
    landing = data_dir / "landing"
    event = {
        "event_id": "E1",
        "platform": "weibo",
        "handle": "@Tea_Lover",
        "event_type": "comment",
        "event_at": "2025-03-01T10:00:00+08:00",
        "text": '好喝 🍵, "really"',
    }
    lines = [
        json.dumps(event, ensure_ascii=False),
        "{not json",
        "",
        json.dumps(event | {"event_id": "E2"}),
    ]
    _file(landing, "social_events", "2025-03-01", "social.jsonl", "\n".join(lines) + "\n")
    assert _run("social_events").success
    [(_, status, rows_in, loaded, quarantined, _)] = _loads("social_events")
    assert (status, rows_in, loaded, quarantined) == ("loaded", 3, 2, 1)
    with connect(read_only=True) as con:
        assert con.execute("select line, reason from raw.quarantine").fetchall() == [
            (2, "invalid JSON")
        ]
        got = con.execute(
            "select event_id, _source_line, text, event_at from raw.social_events order by 1"
        ).fetchall()
    assert [(e, ln) for e, ln, *_ in got] == [("E1", 1), ("E2", 4)]
    assert got[0][2] == event["text"]
    assert str(got[0][3]) == "2025-03-01 02:00:00+00:00"


def test_redelivery_is_skipped_and_reruns_change_nothing(data_dir: Path):
    landing = data_dir / "landing"
    first = _file(landing, "pos_transactions", "2025-03-01", "pos.csv", f"{HEADER}\n{GOOD}\n")
    _file(landing, "pos_transactions", "2025-03-05", "pos.csv", first.read_text())
    assert _run("pos_transactions").success
    assert _run("pos_transactions").success
    statuses = sorted((f, s, loaded) for f, s, _, loaded, *_ in _loads("pos_transactions"))
    assert statuses == [
        ("pos_transactions/2025-03-01/pos.csv", "loaded", 1),
        ("pos_transactions/2025-03-05/pos.csv", "duplicate", 0),
    ]
    with connect(read_only=True) as con:
        assert con.execute("select count(*) from raw.pos_transactions").fetchone()[0] == 1


def test_missing_source_folder_is_an_empty_source(data_dir: Path):
    result = _run("service_interactions")
    assert result.success
    with connect(read_only=True) as con:
        assert con.execute("select count(*) from raw.service_interactions").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("relative", "reason"),
    [
        ("pos_transactions/loose.csv", "not inside a YYYY-MM-DD delivery folder"),
        ("pos_transactions/latest/pos.csv", "not a YYYY-MM-DD date"),
    ],
)
def test_files_outside_the_layout_are_reported(data_dir: Path, relative: str, reason: str):
    path = data_dir / "landing" / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{HEADER}\n{GOOD}\n")
    result = _run("pos_transactions")
    assert not result.success
    assert reason in result.get_step_failure_events()[0].event_specific_data.error.message


def test_symlink_out_of_landing_is_refused(data_dir: Path, tmp_path: Path):
    secret = tmp_path / "outside.csv"
    secret.write_text(f"{HEADER}\n{GOOD}\n")
    link = data_dir / "landing" / "pos_transactions" / "2025-03-01" / "pos.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    result = _run("pos_transactions")
    assert not result.success
    assert "symlink points outside the landing folder" in (
        result.get_step_failure_events()[0].event_specific_data.error.message
    )
    with connect(read_only=True) as con:
        assert con.execute("select count(*) from raw.pos_transactions").fetchone()[0] == 0
