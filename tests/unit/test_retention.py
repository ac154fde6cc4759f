"""Retention: what runs leave behind is kept for the newest CRM_KEEP_RUNS runs, and
Dagster's history keeps every run the publication gate still reads."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from pipelines import retention
from pipelines.lib.retention import prune_dbt_invocations, prune_validations


def _folder(path: Path, age_seconds: float) -> Path:
    path.mkdir(parents=True)
    (path / "run_results.json").write_text("{}")
    stamp = 1_800_000_000 - age_seconds
    os.utime(path, (stamp, stamp))
    return path


def test_dbt_artefacts_of_the_newest_runs_are_kept_whole(tmp_path: Path):
    # Three runs, the newest two with two dbt invocations each (a step retried in the run).
    _folder(tmp_path / "crm_dbt_models-aaaaaaaa-111111", 300)
    _folder(tmp_path / "crm_dbt_models-bbbbbbbb-222222", 200)
    _folder(tmp_path / "crm_dbt_models-bbbbbbbb-333333", 190)
    _folder(tmp_path / "crm_dbt_models-cccccccc-444444", 100)
    _folder(tmp_path / "crm_dbt_models-cccccccc-555555", 90)
    (tmp_path / "partial_parse.msgpack").write_bytes(b"parse")

    removed = prune_dbt_invocations(tmp_path, keep_runs=2)

    assert removed == ["crm_dbt_models-aaaaaaaa-111111"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "crm_dbt_models-bbbbbbbb-222222",
        "crm_dbt_models-bbbbbbbb-333333",
        "crm_dbt_models-cccccccc-444444",
        "crm_dbt_models-cccccccc-555555",
        "partial_parse.msgpack",  # the parse the next invocation reuses
    ]
    assert prune_dbt_invocations(tmp_path / "missing", keep_runs=2) == []


def test_ge_results_and_their_pages_keep_the_newest_per_suite(tmp_path: Path):
    results = tmp_path / "gx" / "uncommitted" / "validations"
    pages = tmp_path / "gx" / "uncommitted" / "data_docs" / "local_site" / "validations"
    runs = ["20260101T020000.000001Z", "20260102T020000.000001Z", "20260103T020000.000001Z"]
    for suite, times in (("marts__orders", runs), ("raw__stores", runs[:1])):
        for time in times:
            (results / suite / "__none__" / time).mkdir(parents=True)
            (results / suite / "__none__" / time / "result.json").write_text("{}")
            (pages / suite / "__none__" / time).mkdir(parents=True)

    removed = prune_validations(tmp_path, keep_runs=2)

    assert removed == [f"marts__orders/__none__/{runs[0]}"]
    for root in (results, pages):
        assert sorted(p.name for p in (root / "marts__orders" / "__none__").iterdir()) == runs[1:]
        # a suite validated once (a source delivered once) keeps its only result
        assert [p.name for p in (root / "raw__stores" / "__none__").iterdir()] == runs[:1]


@dg.asset
def nightly_mart() -> None:
    return None


@dg.asset_check(asset=nightly_mart, blocking=True)
def nightly_mart_ok() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


@dg.asset
def monthly_mart() -> None:
    return None


def test_old_runs_go_unless_they_hold_a_latest_result(tmp_path: Path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        # The first run is the only one of the monthly mart: it holds its latest
        # materialisation. Five nights follow.
        monthly = dg.materialize([monthly_mart], instance=instance).run_id
        nights = [
            dg.materialize([nightly_mart, nightly_mart_ok], instance=instance).run_id
            for _ in range(5)
        ]
        shard = instance.event_log_storage.path_for_shard  # SQLite: one file per run
        assert Path(shard(nights[0])).exists()

        removed = retention.prune_run_history(
            instance, keep_runs=2, check_keys=[nightly_mart_ok.check_key]
        )

        assert sorted(removed) == sorted(nights[:3])
        kept = {r.run_id for r in instance.get_runs()}
        assert kept == {monthly, *nights[3:]}
        assert not any(Path(shard(run)).exists() for run in removed)
        # What the gate reads is still there: latest materialisations and evaluations.
        assert instance.get_latest_materialization_event(monthly_mart.key).run_id == monthly
        (latest,) = instance.event_log_storage.get_asset_check_execution_history(
            nightly_mart_ok.check_key, limit=1
        )
        assert latest.run_id == nights[-1] and latest.event is not None
        # Applying it again removes nothing more.
        assert retention.prune_run_history(instance, 2, [nightly_mart_ok.check_key]) == []


def test_the_sensor_prunes_after_a_whole_warehouse_run_only(tmp_path: Path, monkeypatch):
    from pipelines.defs.housekeeping import retention_after_success

    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CRM_KEEP_RUNS", "1")
    monkeypatch.setenv("CRM_EXPORTS_KEEP", "1")
    for folder in ("exports", "restricted/contacts"):
        for day in ("2026-01-01", "2026-01-02"):
            (tmp_path / "data" / folder / day).mkdir(parents=True)
    defs = dg.Definitions(
        assets=[nightly_mart, monthly_mart],
        asset_checks=[nightly_mart_ok],
        jobs=[dg.define_asset_job("warehouse"), dg.define_asset_job("other")],
    )
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:

        def evaluate(job: str, **options):
            result = defs.resolve_job_def(job).execute_in_process(instance=instance, **options)
            context = dg.build_run_status_sensor_context(
                sensor_name=retention_after_success.name,
                dagster_instance=instance,
                dagster_run=result.dagster_run,
                dagster_event=result.get_run_success_event(),
                repository_def=defs.get_repository_def(),
            )
            return result.run_id, retention_after_success(context)

        first, _ = evaluate("warehouse")
        other, skipped = evaluate("other")
        assert isinstance(skipped, dg.SkipReason)  # not the warehouse job
        part, skipped = evaluate("warehouse", asset_selection=[nightly_mart.key])
        assert isinstance(skipped, dg.SkipReason)  # a part of it
        assert len(instance.get_runs()) == 3
        last, outcome = evaluate("warehouse")
        assert outcome is None
        # Only the newest run is left: it holds every latest result.
        assert [r.run_id for r in instance.get_runs()] == [last]
        assert {first, other, part}.isdisjoint(r.run_id for r in instance.get_runs())
        # ... and the newest as-of date's exports and contact lists
        for folder in ("exports", "restricted/contacts"):
            assert [p.name for p in (tmp_path / "data" / folder).iterdir()] == ["2026-01-02"]


def test_published_exports_keep_the_newest_as_of_dates(tmp_path: Path):
    from pipelines.lib.retention import prune_published

    dates = ["2026-01-09", "2026-01-10", "2026-01-11", "2026-02-01"]
    for name in [*dates, ".staging-123-abc"]:
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text("{}")

    removed = prune_published(tmp_path, keep=2)

    assert removed == dates[:2]
    # a writer's staging folder is the writer's to finish or clear
    assert sorted(p.name for p in tmp_path.iterdir()) == [".staging-123-abc", *dates[2:]]
    # the newest is never removed, whatever the setting says
    assert prune_published(tmp_path, keep=0) == ["2026-01-11"]
    assert prune_published(tmp_path / "missing", keep=2) == []
