{#-
    delete+insert on Spark tables without row-level DML (Parquet, the local session's and
    dbt-spark's default format).

    The incremental models replace whole keys (dates, or (source, record_key)): dbt deletes
    the stored rows of every key the new batch holds, then inserts the batch. DuckDB does
    that in one transaction. dbt-spark offers append, insert_overwrite, merge (Delta,
    Iceberg, Hudi only) and microbatch, so the models would need a second strategy and a
    second set of semantics on Spark. Instead, delete+insert is added here for Spark: the
    kept stored rows and the batch are written to a work table, which then overwrites the
    model's table (Spark refuses to overwrite a table that the same query reads). Keys
    match with `=`, as in dbt's delete+insert on DuckDB (a null key matches nothing).

    It is a rewrite of the whole table, fine for the local parity runs, and it is not
    atomic: Parquet's overwrite removes the old files before it writes the new ones, so a
    failure during it leaves the table incomplete, with the complete rows still in the
    work table <model>__dbt_rewrite until the next run replaces it (copy them back by
    hand). A production cluster should use a table format with atomic commits (Delta),
    where this could be a DELETE and an INSERT; that is not built (docs/scaling-out.md).

    These two macros replace dbt-spark's own (a macro of the root project wins over one of
    the adapter's), accepting the one strategy more and handing everything else back.
-#}

{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) -%}
    {%- if raw_strategy == 'delete+insert' -%}
        {{ return(raw_strategy) }}
    {%- endif -%}
    {{ return(dbt_spark.dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format)) }}
{%- endmacro %}


{% macro dbt_spark_get_incremental_sql(strategy, source, target, existing, unique_key, incremental_predicates) -%}
    {%- if strategy != 'delete+insert' -%}
        {{ return(dbt_spark.dbt_spark_get_incremental_sql(
            strategy, source, target, existing, unique_key, incremental_predicates)) }}
    {%- endif -%}
    {%- if not unique_key -%}
        {{ exceptions.raise_compiler_error("delete+insert needs a unique_key: " ~ target) }}
    {%- endif -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- if config.get('log_replaced') -%}
        {#- the replaced rows' log (macros/incremental/replaced_rows.sql), before the rewrite -#}
        {%- for statement in log_replaced_rows(target, source, unique_key, config.get('log_replaced')) -%}
            {%- do run_query(statement) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='quoted') | join(', ') -%}
    {%- set kept -%}
        select {{ columns }} from {{ target }} as stored
        where not exists (
            select 1 from {{ source }} as batch
            where {% for key in keys %}batch.{{ key }} = stored.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
        )
        union all
        select {{ columns }} from {{ source }}
    {%- endset -%}
    {{ return(spark_rewrite_table(target, kept)) }}
{%- endmacro %}


{#- Replace every row of `relation` with the rows of `select_sql` (which may read it), through
    a work table; returns a statement that refreshes Spark's cached file list of it. -#}
{% macro spark_rewrite_table(relation, select_sql) -%}
    {%- set work = relation.incorporate(path={"identifier": relation.identifier ~ '__dbt_rewrite'}) -%}
    {%- do run_query("drop table if exists " ~ work) -%}
    {%- do run_query("create table " ~ work ~ " using parquet as " ~ select_sql) -%}
    {%- do run_query("insert overwrite table " ~ relation ~ " select * from " ~ work) -%}
    {%- do run_query("drop table " ~ work) -%}
    {{ return("refresh table " ~ relation) }}
{%- endmacro %}
