{#-
    register_portable_sources(): make the sources resolvable on the target's engine.

    DuckDB reads its sources from the warehouse file: raw.<source> is a table filled by
    ingest, or a view over the Parquet layer that ingest keeps (CRM_RAW_FORMAT=parquet).
    Nothing to do.

    Spark reads the portable layer that ingest and the customer_clv model write as Parquet
    when CRM_RAW_FORMAT is duckdb+parquet or parquet (pipelines/lib/ingest.py,
    models/marts/customer_value/customer_clv.py). A source says where its files are, relative to
    CRM_PORTABLE_DIR, in meta portable_files ({table} = its identifier); each becomes a view
    over its files, so a new load is read by the next query with no registration step.
    Paths are settings and repository text, never data.
-#}
{% macro register_portable_sources() -%}
    {{ return(adapter.dispatch('register_portable_sources', 'crm_warehouse')()) }}
{%- endmacro %}

{% macro default__register_portable_sources() -%}
    select 1 as sources_unchanged
{%- endmacro %}

{% macro spark__register_portable_sources() -%}
    {%- if execute -%}
        {%- set root = env_var('CRM_PORTABLE_DIR') -%}
        {%- set schemas = [] -%}
        {%- set statements = [] -%}
        {%- for node in graph.sources.values() -%}
            {%- set pattern = node.meta.get('portable_files') or node.source_meta.get('portable_files') -%}
            {%- if pattern -%}
                {%- if node.schema not in schemas %}{% do schemas.append(node.schema) %}{% endif -%}
                {%- do statements.append(
                    "create or replace view " ~ node.schema ~ "." ~ node.identifier
                    ~ " as select * from parquet.`" ~ root ~ "/"
                    ~ pattern | replace('{table}', node.identifier) ~ "`"
                ) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- for schema in schemas -%}
            {%- do run_query("create database if not exists " ~ schema) -%}
        {%- endfor -%}
        {%- for statement in statements -%}
            {%- do run_query(statement) -%}
        {%- endfor -%}
    {%- endif -%}
    select 1 as sources_registered
{%- endmacro %}
