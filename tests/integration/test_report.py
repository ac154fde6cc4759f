"""The job writes one self-contained HTML report: every plot inline, nothing fetched."""

from __future__ import annotations

import re

from pipelines.lib.report import SECTIONS


def test_job_writes_a_self_contained_report(xs_warehouse):
    path = xs_warehouse.report_path
    assert path.exists()
    page = path.read_text(encoding="utf-8")
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', page)
    assert images == [title for title, _ in SECTIONS]
    # no external resource: no http(s) URL, no script, no stylesheet link
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    assert "<script" not in page
    assert "<link" not in page
