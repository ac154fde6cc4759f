{#-
    The rows a model kept by key replaces, logged (docs/incremental.md, "Bases kept by
    another key").

    A base kept by a coarser key than its upstream (int_customers_profiled, one row per
    customer, over int_source_records_resolved, one row per record) recomputes the groups a
    replaced upstream row left as well as those the new rows join: a record that moves
    from customer A to customer B changes both. The new row says B; only the replaced row
    said A, and dbt's delete+insert removes it. So a model configured with
    `log_replaced=[columns]` appends those columns of every stored row it is about to
    delete (a changed key, a tombstone included) to <model>__replaced, stamped with the
    run's timestamp (_replaced_at), just before the delete and in the same transaction
    (DuckDB; on Spark just before the rewrite). A base reads the log rows stamped after its
    own newest _built_at, so a failed night or several nights between two of its builds
    lose nothing.

    The log holds a few columns per replaced row (about the rows the night rewrote), and
    the run's end deletes the rows every reader has consumed (prune_replaced_rows_logs,
    below), so it does not grow with the nights. A full rebuild of the model does not
    write it: its descendants rebuild with it (their fingerprints change with it), so no
    base reads a log that misses rows.
-#}


{#- The log of `relation` (a model configured with log_replaced). -#}
{% macro replaced_rows_relation(relation) -%}
    {{ return(relation.incorporate(path={"identifier": relation.identifier ~ '__replaced'})) }}
{%- endmacro %}


{#- A relation: the `columns` of the rows `relation` replaced after this model's newest
    _built_at (every logged row when this model holds none). The log exists as soon as
    `relation` does (the post-hook replaced_rows_log creates it): dbt's relation cache,
    filled when the run starts, does not know a log created during the run, so it is not
    asked. -#}
{% macro rows_replaced_since_built(relation, columns) -%}
    (
        select {{ columns | join(', ') }}
        from {{ replaced_rows_relation(relation) }}
        where {{ after_watermark('_replaced_at', '_built_at') }}
    )
{%- endmacro %}


{#- The body of a `changed_customers` CTE of a model kept by customer over the orders mart
    (int_customer_orders_summarised, product_recommendations): the customers an order
    joined (the orders it wrote after this model's _built_at) or left (the customer of the
    rows it replaced since then, from its log). -#}
{% macro customers_of_changed_orders() -%}
    select customer_id
    from {{ ref('orders') }}
    where {{ after_watermark('_built_at', '_built_at') }}
        and customer_id is not null
    union
    select customer_id
    from {{ rows_replaced_since_built(ref('orders'), ['customer_id']) }} as left_customers
    where customer_id is not null
{%- endmacro %}


{#- Post-hook of every model (dbt_project.yml): for a model configured with log_replaced,
    its log, created empty if it does not exist yet (on the model's first build, which
    replaces nothing); nothing for the others. -#}
{% macro replaced_rows_log() -%}
    {%- if config.get('log_replaced') -%}
    {{ create_replaced_rows_log(this, config.get('log_replaced')) }}
    {%- endif -%}
{%- endmacro %}


{% macro create_replaced_rows_log(target, columns) -%}
    {{- return(
        "create table if not exists " ~ replaced_rows_relation(target)
        ~ adapter.dispatch('replaced_rows_format', 'crm_warehouse')()
        ~ " as select " ~ columns | join(', ') ~ ", " ~ run_timestamp() ~ " as _replaced_at"
        ~ " from " ~ target ~ " where 1 = 0"
    ) -}}
{%- endmacro %}


{#- Statements appending to the log of `target` the configured columns of its stored rows
    whose unique key is in `batch` (the rows about to replace them). Keys match with `=`,
    as in dbt's delete+insert (a null key replaces nothing). -#}
{% macro log_replaced_rows(target, batch, unique_key, columns) -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set matches = [] -%}
    {%- for key in keys -%}
        {%- do matches.append('batch.' ~ key ~ ' = stored.' ~ key) -%}
    {%- endfor -%}
    {{ return([
        create_replaced_rows_log(target, columns),
        "insert into " ~ replaced_rows_relation(target)
            ~ " select " ~ columns | join(', ') ~ ", " ~ run_timestamp() ~ " from " ~ target ~ " as stored"
            ~ " where exists (select 1 from " ~ batch ~ " as batch where " ~ matches | join(' and ') ~ ")",
    ]) }}
{%- endmacro %}

{% macro default__replaced_rows_format() -%}
    {{ return('') }}
{%- endmacro %}

{% macro spark__replaced_rows_format() -%}
    {{ return(' using parquet') }}
{%- endmacro %}


{#- dbt-duckdb's delete+insert, preceded by the log of the replaced rows when the model is
    configured with log_replaced. A macro of the root project replaces the adapter's; the
    adapter's own stays reachable in the `dbt` namespace (the internal packages'). -#}
{% macro duckdb__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {%- set logged = config.get('log_replaced') -%}
    {%- if logged -%}
    {%- for statement in log_replaced_rows(target, source, unique_key, logged) %}
    {{ statement }};
    {%- endfor %}
    {%- endif %}
    {{ dbt.duckdb__get_delete_insert_merge_sql(
        target, source, unique_key, dest_columns, incremental_predicates) }}
{%- endmacro %}


{#- on-run-end: each log keeps only the rows some reader has not consumed yet. A reader is
    a model kept by key that refs the logged model and stamps its rows with _built_at (the
    bases of rows_replaced_since_built; taking every such child errs on the side of
    keeping). It has consumed every log row stamped at or before its newest _built_at, so
    the rows at or before the oldest of those are deleted. Nothing is deleted while a
    reader holds no row or does not exist yet (it will read the whole log), nor from a log
    not created yet. A failed reader kept its old _built_at, so its rows wait for it (a
    reader on a weekly cadence would keep about a week of them). Spark writes its logs as
    Parquet tables, which cannot delete rows: they are left whole. -#}
{% macro prune_replaced_rows_logs() -%}
    {{ return(adapter.dispatch('prune_replaced_rows_logs', 'crm_warehouse')()) }}
{%- endmacro %}

{% macro default__prune_replaced_rows_logs() -%}
    select 1 as replaced_rows_logs_kept
{%- endmacro %}

{% macro duckdb__prune_replaced_rows_logs() -%}
    {%- if not execute -%}
        {{ return('select 1 as replaced_rows_logs_kept') }}
    {%- endif -%}
    {%- set stamped = run_query(
        "select table_schema || '.' || table_name, column_name from information_schema.columns"
        ~ " where table_catalog = current_database()"
        ~ " and column_name in ('_built_at', '_replaced_at')"
    ) -%}
    {%- set built, logs = [], [] -%}
    {%- for row in stamped.rows -%}
        {%- do (built if row[1] == '_built_at' else logs).append(row[0]) -%}
    {%- endfor -%}
    {%- set statements = [] -%}
    {%- for logged in graph.nodes.values()
        if logged.resource_type == 'model' and logged.config.get('log_replaced') -%}
        {%- set log = replaced_rows_relation(api.Relation.create(
            database=logged.database, schema=logged.schema, identifier=logged.alias)) -%}
        {%- set readers = [] -%}
        {%- for reader in graph.nodes.values()
            if reader.resource_type == 'model'
            and logged.unique_id in reader.depends_on.nodes
            and reader.config.materialized == 'incremental' -%}
            {%- if (reader.schema ~ '.' ~ reader.alias) in built -%}
                {%- do readers.append(api.Relation.create(
                    database=reader.database, schema=reader.schema, identifier=reader.alias)) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if readers and (log.schema ~ '.' ~ log.identifier) in logs -%}
            {#- null, so nothing is deleted, while any reader holds no row -#}
            {%- set consumed -%}
                select case when count(built_at) = count(*) then min(built_at) end
                from (
                {%- for reader in readers %}
                    select max(_built_at) as built_at from {{ reader }}
                    {%- if not loop.last %} union all{% endif %}
                {%- endfor %}
                ) as readers
            {%- endset -%}
            {%- do statements.append(
                "delete from " ~ log ~ " where _replaced_at <= (" ~ consumed ~ ")"
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return((statements | join(';\n')) or 'select 1 as replaced_rows_logs_kept') }}
{%- endmacro %}
