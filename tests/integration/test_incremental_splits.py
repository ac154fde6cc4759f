"""Any split of a chain of deliveries into nights gives the full build (hypothesis).

test_incremental_facts.py bends one chain so that every way a stored row can go stale
happens, on one fixed schedule of nights. Here the schedule itself varies: a short XS
chain of daily deliveries (its Tmall items a day late, a Shopify order corrected and moved
to another day) is cut into nights at split points hypothesis chooses; each night ingests
its days and runs dbt as the Dagster dbt assets do (fingerprint check, every model kept by
key by delete+insert), and after the first night of the next week (the weekly marts'
rebuild) the warehouse must equal one full refresh of all the days, table for table
(assert_same_warehouse). Derandomised, so CI always runs the same splits.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from dbt.adapters.duckdb.connections import DuckDBConnectionManager
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from pipelines.settings import get_settings
from tests.conftest import deliver, set_dbt_variables
from tests.integration.test_incremental_facts import (  # noqa: F401 (a fixture)
    DAYS,
    NEXT_WEEK,
    SELECT,
    START,
    WEEK,
    Dbt,
    assert_same_warehouse,
    ingest,
    late_items_chain,
    release_dbt_duckdb,
    shopify_correction,
    weekly_marts,
    weekly_readers,
)

pytestmark = pytest.mark.xdist_group("incremental_splits")

SEED = 11  # another chain than test_incremental_facts.py's
CHAIN = [START + timedelta(days=i) for i in range(DAYS)]


@pytest.mark.usefixtures("release_dbt_duckdb")
def test_any_split_into_nights_gives_the_full_build(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing, order = late_items_chain(data_dir, SEED)
    deliver(
        landing, "shopify_orders", str(CHAIN[2]),
        shopify_correction(landing, tmp_path, order, CHAIN[3], "orders_export_fix1.csv"),
    )  # fmt: skip

    def warehouse(name: str):
        # same file name in every folder: dbt names the database after it, and the
        # manifest is parsed once
        monkeypatch.setenv("DUCKDB_PATH", str(data_dir / name / "warehouse.duckdb"))
        built = get_settings()
        set_dbt_variables(monkeypatch, built)
        return built

    full = warehouse("full")
    dbt = Dbt(tmp_path / "target")
    ingest(full, None)
    dbt("seed")
    dbt("run", *SELECT, "--full-refresh")

    schedules: list[list[list]] = []

    @settings(
        max_examples=3,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        # an example is several dbt runs (~35 s): a failure is reported as found, unshrunk
        phases=[Phase.explicit, Phase.generate],
    )
    @given(splits=st.sets(st.integers(min_value=1, max_value=DAYS - 1), min_size=1))
    def nights_equal_the_full_build(splits: set[int]) -> None:
        cuts = [0, *sorted(splits), DAYS]
        nights = [CHAIN[start:end] for start, end in pairwise(cuts)]
        # a schedule already built proves nothing new (the derandomised examples follow
        # this function's source, and may repeat one)
        assume(nights not in schedules)
        schedules.append(nights)
        built = warehouse(f"split{len(schedules)}")
        for night, days in enumerate(nights):
            for day in days:
                ingest(built, day)
            if night == 0:
                dbt("seed")
            _, rebuilt = dbt.night(built, "run", *SELECT, period=WEEK)
            # after the first night nothing is rebuilt: every night after it is by key
            assert night == 0 or not rebuilt, (days, rebuilt)
        # the weekly marts kept the first night's build: the next week's first night
        # rebuilds them and the incremental models reading them (test_incremental_facts.py
        # shows them stale until then)
        _, rebuilt = dbt.night(built, "run", *SELECT, period=NEXT_WEEK)
        assert {f"marts.{m}" for m in rebuilt} == weekly_marts(dbt.manifest_path) | weekly_readers(
            dbt.manifest_path, "incremental"
        ), rebuilt
        # dbt-duckdb keeps the last database it built open: let it go before attaching it
        DuckDBConnectionManager.close_all_connections()
        compared = assert_same_warehouse(built, full)
        assert compared["marts.orders"] > 0 and compared["marts.order_lines"] > 0

    nights_equal_the_full_build()
    # the splits were really different schedules of more than one night
    assert len(schedules) == 3 and len({str(s) for s in schedules}) == 3, schedules
    assert all(len(nights) > 1 for nights in schedules), schedules
