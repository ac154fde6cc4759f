"""`crm-warehouse clv-fit --input FILE.csv`: parameters as JSON, malformed files rejected
with the file, line and column named and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.lib import clv

runner = CliRunner()


@pytest.fixture(scope="module")
def customers() -> list[str]:
    """3,000 simulated CDNOW-like customers in weeks, as CSV lines (no header)."""
    rng = np.random.default_rng(21)
    x, t_x, T = clv.simulate_bgnbd(
        clv.BgNbdParams(0.24, 4.41, 0.79, 2.43), rng.uniform(30, 78, 3000), rng
    )
    m = clv.simulate_gamma_gamma(clv.GammaGammaParams(6.25, 3.74, 15.44), x, rng)
    return [
        f"c{i},{int(f)},{r:.4f},{t:.4f},{0 if f == 0 else round(v, 2)}"
        for i, (f, r, t, v) in enumerate(zip(x, t_x, T, m, strict=True))
    ]


def _write(tmp_path: Path, header: str, lines: list[str]) -> Path:
    path = tmp_path / "customers.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def _run(path: Path):
    return runner.invoke(app, ["clv-fit", "--input", str(path)])


def test_good_file_prints_both_models(tmp_path: Path, customers: list[str]):
    result = _run(_write(tmp_path, "customer_id,frequency,recency,T,monetary_value", customers))
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out["bgnbd"]) == {"r", "alpha", "a", "b"}
    assert set(out["gamma_gamma"]) == {"p", "q", "v"}
    assert "time_unit" in out and out["customers"] == len(customers)
    assert out["bgnbd"]["r"] == pytest.approx(0.24, rel=0.25)
    assert out["gamma_gamma"]["p"] == pytest.approx(6.25, rel=0.25)
    assert all(fit["converged"] for fit in out["fit"].values())


def test_without_monetary_value_only_bgnbd(tmp_path: Path, customers: list[str]):
    lines = [line.rsplit(",", 1)[0] for line in customers]
    result = _run(
        _write(
            tmp_path,
            "T,recency,frequency,customer_id",
            [",".join(reversed(line.split(","))) for line in lines],
        )
    )  # column order does not matter
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert set(out["bgnbd"]) == {"r", "alpha", "a", "b"} and "gamma_gamma" not in out


HEADER = "customer_id,frequency,recency,T,monetary_value"


@pytest.mark.parametrize(
    "header,bad_line,where",
    [
        ("customer_id,frequency,T,monetary_value", None, "line 1, column 'recency'"),
        (HEADER, "c_bad,2,abc,10,5", "line 4, column 'recency'"),
        (HEADER, "c_bad,-1,0,10,5", "line 4, column 'frequency'"),
        (HEADER, "c_bad,2,3,-10,5", "line 4, column 'T'"),
        (HEADER, "c_bad,2,11,10,5", "line 4, column 'recency'"),
        (HEADER, "c_bad,2.5,3,10,5", "line 4, column 'frequency'"),
        (HEADER, "c_bad,2,3,10,0", "line 4, column 'monetary_value'"),
        (HEADER, "c_bad,2,3,10,-4", "line 4, column 'monetary_value'"),
        (HEADER, "c_bad,2,3,10,", "line 4, column 'monetary_value'"),
        (HEADER, "c_bad,2,3,nan,5", "line 4, column 'T'"),
        (HEADER, "c_bad,2,3,10", "line 4"),
        (HEADER, "c0,1,3,10,5", "line 4, column 'customer_id'"),
    ],
    ids=[
        "missing-column",
        "non-numeric",
        "negative-frequency",
        "negative-T",
        "recency-after-T",
        "fractional-frequency",
        "zero-monetary",
        "negative-monetary",
        "empty-monetary-with-repeats",
        "not-finite",
        "short-row",
        "duplicate-customer",
    ],
)
def test_malformed_file_exit_2_names_line_and_column(
    tmp_path: Path, customers: list[str], header: str, bad_line: str | None, where: str
):
    lines = customers[:2] + ([bad_line] if bad_line else []) + customers[2:5]
    if bad_line is None:  # drop the recency values to match the header
        lines = [",".join(v for i, v in enumerate(line.split(",")) if i != 2) for line in lines]
    path = _write(tmp_path, header, lines)
    result = _run(path)
    assert result.exit_code == 2
    assert str(path) in result.stderr and where in result.stderr, result.stderr


def test_zero_frequency_may_leave_monetary_value_empty(tmp_path: Path, customers: list[str]):
    lines = [
        line.rsplit(",", 1)[0] + "," if line.split(",")[1] == "0" else line for line in customers
    ]
    result = _run(_write(tmp_path, HEADER, lines))
    assert result.exit_code == 0, result.output


def test_missing_or_empty_file(tmp_path: Path):
    result = _run(tmp_path / "absent.csv")
    assert result.exit_code == 2 and "absent.csv" in result.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = _run(empty)
    assert result.exit_code == 2 and "line 1" in result.stderr
    only_header = _write(tmp_path, HEADER, [])
    result = _run(only_header)
    assert result.exit_code == 2 and "no customer rows" in result.stderr
