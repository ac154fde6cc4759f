{#-
    dbt tests on the night's rows (docs/incremental.md, "Tests that look at the night").

    A model kept by key rewrites a few rows a night; its not_null_columns, not_null,
    accepted_values and relationships tests need only look at those rows, since the
    others passed when they were written. With CRM_DBT_TEST_ROWS=night (set by the
    Dagster dbt assets on an incremental night, but not on the weekly full-test night:
    pipelines/defs/dbt/assets.py), such a test reads only the rows of the model's last
    write: those whose _loaded_through is the model's newest (or, in a model with no
    _loaded_through, whose _built_at is).
    Uniqueness (grain) tests, singular tests (but the two on the identity graph, which
    narrow themselves: night_rows.sql), tests of tables built in full and of the identity
    history always read everything. Without the variable (a `dbt build` by hand,
    the tests of the test suite), every test reads every row.

    The tests of a mart on a weekly cadence (tag weekly) read no row on a night that
    kept it: the table is as its last build left it, and that build's tests read it all.
    They read every row on the run that builds it (a new week, a changed fingerprint).

    This is dbt's own hook for a test's `where` config (get_where_subquery); a `where` set
    on a test still wins.
-#}
{#- dbt resolves this override in the `dbt` namespace: the project's other macros are in
    scope only by the package name (crm_warehouse.newest_value), and only when it runs. -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if not where and execute and env_var('CRM_DBT_TEST_ROWS', 'all') == 'night' -%}
        {#- the rows of the last write of the model under test, for the tests that may
            read them only -#}
        {%- set test_name = (model.get('test_metadata') or {}).get('name', '') -%}
        {%- set tested = graph.nodes.get(model.get('attached_node') or '') -%}
        {%- set kept_by_key = tested
            and tested.config.materialized == 'incremental'
            and tested.config.get('full_refresh') != false -%}
        {#- the last write: its staging watermark, or the run that wrote it (a model kept
            by another key, with _built_at only) -#}
        {%- set watermark = '_loaded_through' if kept_by_key and '_loaded_through' in tested.columns
            else ('_built_at' if kept_by_key and '_built_at' in tested.columns else none) -%}
        {%- if test_name in ['not_null', 'not_null_columns', 'accepted_values', 'relationships']
            and watermark -%}
            {#- the newest value as a literal: the scan skips the row groups of the earlier
                writes (change_feed.sql) -#}
            {%- set newest = crm_warehouse.newest_value(watermark, relation) -%}
            {%- set where = watermark ~ ' = ' ~ newest if newest else 'false' -%}
        {%- elif tested
            and 'weekly' in tested.config.get('tags', [])
            and not flags.FULL_REFRESH
            and tested.name not in env_var('CRM_REBUILD_MODELS', '').split(',') -%}
            {%- set where = 'false' -%}
        {%- endif -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
