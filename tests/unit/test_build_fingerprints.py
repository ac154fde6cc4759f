"""Which incremental models build in full: a change to what a model reads (its SQL, an
upstream's, a seed, a var or environment variable it names, directly or through a macro)
changes its fingerprint; run-time settings and unrelated changes do not."""

from __future__ import annotations

import copy
from datetime import date

import duckdb
import pytest

from pipelines.defs.dbt import fingerprints
from pipelines.defs.dbt.project import prepare_manifest
from pipelines.defs.partitions import cadence_period
from pipelines.lib.dbt_project_file import project_vars

INCREMENTAL = {
    "stg_shopify__orders",
    "stg_shopify__order_lines",
    "stg_tmall__orders",
    "stg_tmall__order_items",
    "stg_pos__receipt_lines",
    "stg_social__events",
    "stg_service__interactions",
    "stg_loyalty__members",
    "int_identifiers_normalised",
    "int_identity_records_unioned",
    "int_identifiers_blocked",
    "int_identity_edges",
    "int_identifiers_linked",
    "int_source_records_resolved",
    "identity_links",
    "int_orders_unioned",
    "int_order_lines_unioned",
    "int_orders_converted",
    "orders",
    "order_lines",
    "interactions",
    "int_customers_profiled",
    "int_customer_months_summarised",
    "int_customer_months_classified",
    "int_customer_orders_summarised",
    "product_recommendations",
}
# the as-of marts on a weekly cadence (tag weekly, docs/incremental.md)
WEEKLY = {"margin_by_product", "margin_by_category", "margin_by_brand", "product_affinity"}
# the models kept by key that read a weekly mart: they hold its fingerprint in theirs
WEEKLY_READERS = {"product_recommendations"}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return fingerprints.load_manifest(prepare_manifest())


@pytest.fixture(scope="module")
def variables() -> dict:
    return project_vars()


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {name for name in before if before[name] != after[name]}


def test_every_incremental_model_has_a_stable_fingerprint(manifest, variables):
    first = fingerprints.model_fingerprints(manifest, variables, {})
    assert set(first) == INCREMENTAL | WEEKLY
    assert fingerprints.model_fingerprints(manifest, variables, {}) == first


def test_a_seed_change_rebuilds_its_descendants_only(manifest, variables):
    before = fingerprints.model_fingerprints(manifest, variables, {})
    edited = copy.deepcopy(manifest)
    edited["nodes"]["seed.crm_warehouse.identifier_blocklist"]["checksum"]["checksum"] = "x"
    after = fingerprints.model_fingerprints(edited, variables, {})
    # identity reads the blocklist; every fact carries the customer id identity gives
    assert {"orders", "order_lines", "interactions"} <= changed(before, after)
    # the identity history (full_refresh=false) is never rebuilt: it has no fingerprint
    assert not {"customer_id_assignments", "customer_id_merges"} & set(after)
    assert not changed(before, after) & {"stg_social__events", "stg_shopify__orders"}


def test_a_model_change_rebuilds_it_and_its_descendants(manifest, variables):
    before = fingerprints.model_fingerprints(manifest, variables, {})
    edited = copy.deepcopy(manifest)
    edited["nodes"]["model.crm_warehouse.stg_tmall__orders"]["checksum"]["checksum"] = "x"
    after = fingerprints.model_fingerprints(edited, variables, {})
    assert {"stg_tmall__orders", "orders", "order_lines"} <= changed(before, after)
    assert "stg_shopify__orders" not in changed(before, after)


def test_a_var_read_through_a_macro_rebuilds_the_models_that_call_it(manifest, variables):
    before = fingerprints.model_fingerprints(manifest, variables, {})
    # default_country_code is read by the identity normalisation macro, not by any model
    after = fingerprints.model_fingerprints(
        manifest, {**variables, "default_country_code": "44"}, {}
    )
    assert {"orders", "interactions"} <= changed(before, after)
    assert "stg_social__events" not in changed(before, after)


def test_an_environment_variable_a_model_reads_rebuilds_it(manifest, variables):
    before = fingerprints.model_fingerprints(manifest, variables, {})
    after = fingerprints.model_fingerprints(manifest, variables, {"CRM_REPORTING_CURRENCY": "EUR"})
    assert {"orders", "order_lines"} <= changed(before, after)


def test_run_time_settings_and_unread_vars_rebuild_nothing(manifest, variables):
    before = fingerprints.model_fingerprints(manifest, variables, {})
    after = fingerprints.model_fingerprints(
        manifest,
        {**variables, "personal_column_patterns": ["^x$"], "rfm_preset": "shopify"},
        {"CRM_ALLOWED_DIRECTORIES": "/elsewhere", "CRM_REBUILD_MODELS": "orders"},
    )
    assert after == before


def test_stored_fingerprints_name_what_to_rebuild():
    con = duckdb.connect()
    assert fingerprints.stored_fingerprints(con) == {}
    wanted = {"orders": "a", "order_lines": "b", "interactions": "c"}
    assert fingerprints.models_to_rebuild(wanted, {}) == ["interactions", "order_lines", "orders"]
    fingerprints.record_fingerprints(con, wanted, ["orders", "order_lines", "customers"])
    assert fingerprints.stored_fingerprints(con) == {"orders": "a", "order_lines": "b"}
    assert fingerprints.models_to_rebuild({**wanted, "orders": "z"}, {"orders": "a"}) == [
        "interactions",
        "order_lines",
        "orders",
    ]
    assert fingerprints.models_to_rebuild(wanted, fingerprints.stored_fingerprints(con)) == [
        "interactions"
    ]


def test_built_models_are_the_models_dbt_reports_successful():
    results = {
        "results": [
            {"unique_id": "model.crm_warehouse.orders", "status": "success"},
            {"unique_id": "model.crm_warehouse.order_lines", "status": "error"},
            {"unique_id": "test.crm_warehouse.not_null_orders_order_id.1", "status": "pass"},
            {"unique_id": "model.crm_warehouse.interactions", "status": "skipped"},
        ]
    }
    assert fingerprints.built_models(results) == ["orders"]


def test_the_branch_a_run_took_does_not_change_a_fingerprint(manifest, variables):
    """dbt records a model's macros as it renders it: a manifest written by an incremental
    run lists the macros called under is_incremental(), one from a full build does not."""
    before = fingerprints.model_fingerprints(manifest, variables, {})
    edited = copy.deepcopy(manifest)
    node = edited["nodes"]["model.crm_warehouse.stg_pos__receipt_lines"]
    node["depends_on"]["macros"].append("macro.crm_warehouse.after_watermark")
    assert fingerprints.model_fingerprints(edited, variables, {}) == before


def test_a_new_week_rebuilds_the_weekly_marts_and_their_readers_only(manifest, variables):
    week = fingerprints.model_fingerprints(manifest, variables, {}, period="2026-W01")
    same = fingerprints.model_fingerprints(manifest, variables, {}, period="2026-W01")
    assert same == week
    after = fingerprints.model_fingerprints(manifest, variables, {}, period="2026-W02")
    assert changed(week, after) == WEEKLY | WEEKLY_READERS


def test_the_week_of_a_run_is_that_of_its_newest_landing_date():
    # ISO weeks start on Monday; the last days of December can be week 1 of the next year
    assert cadence_period(date(2025, 12, 28)) == "2025-W52"  # a Sunday
    assert cadence_period(date(2025, 12, 29)) == "2026-W01"  # the Monday after
    assert cadence_period(date(2026, 1, 4)) == "2026-W01"
    assert cadence_period(date(2026, 1, 5)) == "2026-W02"
