"""Tools around the warehouse that Dagster never loads: the sample generator and the
benchmark. `crm-warehouse generate` and `crm-warehouse bench` import them on demand; the
code location (`pipelines.definitions`) must not (tests/unit/test_code_location.py)."""
