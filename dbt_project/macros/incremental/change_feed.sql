{#-
    Change feed of the models kept by key: staging, then the facts (docs/incremental.md).

    The raw tables are append-only and every raw row carries the time it was loaded
    (_loaded_at). A staging model kept by key stores, on every row it writes, the latest
    _loaded_at of its raw table when it wrote it (_loaded_through). Its watermark is the
    maximum of that column in its own table, so it advances in the same transaction as the
    rows (dbt-duckdb's delete+insert is one transaction): a failed night leaves it where it
    was, and the next run reads everything loaded since. The run's delta is every key that
    has a raw row loaded after the watermark, whatever the row's delivery date (a late
    folder with an older date, a same-day re-load); those keys are re-ranked from all their
    raw rows, with the same logic as a full build, and replace their stored rows.
    Loads and dbt never write the warehouse at the same time (DuckDB allows one writer), so
    a row loaded after a dbt run has a later _loaded_at than any that run consumed.
-#}


{#- `relation` (a raw table), or on an incremental run only its rows of the keys with a
    row loaded after this model's watermark. key_sql: the key as an expression over the
    raw columns, exactly as the model ranks by it. Use as a relation: `from {{ ... }} as x`. -#}
{% macro raw_rows_of_changed_keys(relation, key_sql) -%}
    {%- if is_incremental() -%}
    (
        select * from {{ relation }}
        where {{ key_sql }} in (
            select {{ key_sql }} from {{ relation }}
            where {{ after_watermark('_loaded_at') }}
        )
    )
    {%- else -%}
    {{ relation }}
    {%- endif -%}
{%- endmacro %}


{#- Condition: `column` is later than this model's watermark, the newest `watermark_column`
    of its own rows (true for every row when the table holds no row yet). -#}
{% macro after_watermark(column, watermark_column='_loaded_through') -%}
    {%- set watermark = newest_value(watermark_column, this) -%}
    {%- if watermark is none -%}
    true
    {%- else -%}
    {{ column }} > {{ watermark }}
    {%- endif -%}
{%- endmacro %}


{#- The newest `column` of `relation` as a literal of the column's type, read when the model
    or test runs (none when the relation holds no row, and at parse time). A filter on a
    scalar subquery, `_loaded_through > (select max(...) ...)`, makes DuckDB read every row
    group of the filtered table; against a literal, the scan skips the row groups whose
    min/max rule it out, and a night's new rows are in the newest row groups. On an L night
    it halves the select of most models kept by key (identity_links 3.4 -> 1.6 s, orders
    1.9 -> 1.2 s alone). The value travels as text (dbt's run_query keeps a string as it
    is) with the engine's name of its type, so the literal is the stored value exactly. -#}
{% macro newest_value(column, relation) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set newest -%}
        select
            cast(max({{ column }}) as {{ dbt.type_string() }}) as newest,
            typeof(max({{ column }})) as newest_type
        from {{ relation }}
    {%- endset -%}
    {%- set row = run_query(newest).rows[0] -%}
    {%- if row[0] is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return("cast('" ~ row[0] ~ "' as " ~ row[1] ~ ")") }}
{%- endmacro %}


{#- Staging: the value of _loaded_through for the rows this run writes, the newest load of
    `relation`. -#}
{% macro loaded_through(relation) -%}
    (select max(_loaded_at) from {{ relation }})
{%- endmacro %}


{#- Facts: the value of _loaded_through for the rows this run writes, the newest load any of
    the staging models `models` (kept by key) has consumed. One value across several
    staging models is a valid watermark for all of them: loads and dbt runs never overlap,
    so a row any of them writes later comes from a load after every load consumed now. -#}
{% macro staging_loaded_through(models) -%}
    (
        select max(loaded_through) from (
            {%- for model in models %}
            select max(_loaded_through) as loaded_through from {{ ref(model) }}
            {{- ' union all' if not loop.last }}
            {%- endfor %}
        ) as staging_loads
    )
{%- endmacro %}


{#- The run's timestamp (dbt's run_started_at), written as _built_at on every row a fact
    writes and as assigned_at by the identity history: a model downstream of either takes
    the rows stamped after its own newest _built_at. -#}
{% macro run_timestamp() -%}
    {{ identity_timestamp("'" ~ run_started_at.isoformat() ~ "'") }}
{%- endmacro %}


{#-
    Facts and identity models kept by key (orders, order_lines, interactions;
    int_identifiers_normalised, int_identity_records_unioned).

    An incremental run writes the current rows of the run's changed keys: `changed` (a CTE
    or relation, distinct on `key_columns`) names them; `fresh` computes every key's rows
    from the current upstream (a filter on the keys reaches the scans). dbt's delete+insert
    on the model's unique_key deletes the stored rows of those keys first. A changed key
    with no fresh row any more (an order whose mapped export lost it, a receipt that stops
    being a store visit) gets a tombstone: a row with only the unique key set, and
    `tombstone_column` (a column never null in a real row) null. The tombstone makes dbt
    delete the key's stored rows; the model's post-hook (delete_tombstones) removes it in
    the same transaction.
    The tombstone's columns are {{ this }}'s, in its order (the fresh CTE's columns cannot
    be listed at compile time), so the fresh rows must keep {{ this }}'s column order:
    on_schema_change='fail' catches any other change, and the model's fingerprint rebuilds
    it after its SQL changed.
-#}
{% macro rows_of_changed_keys(fresh, changed, key_columns, unique_key, unique_key_sql=none) -%}
    {#- a tombstone's unique key: one column computed by unique_key_sql, or (a list) the key
        columns themselves -#}
    {%- set key_values = {} -%}
    {%- if unique_key is string -%}
        {%- do key_values.update({unique_key | lower: unique_key_sql}) -%}
    {%- else -%}
        {%- for key in unique_key -%}
            {%- do key_values.update({key | lower: changed ~ '.' ~ key}) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) -%}
    {#- The fresh rows of the changed keys are named once and read twice (the rows, and the
        keys without any): `fresh` itself read twice would be materialised whole by DuckDB
        (every order line of the history at L) before the join with the changed keys. -#}
    select * from (
    with fresh_of_changed as (
        select {{ fresh }}.*
        from {{ fresh }}
        inner join {{ changed }}
            on {% for key in key_columns -%}
            {{ fresh }}.{{ key }} = {{ changed }}.{{ key }}{{ ' and ' if not loop.last }}
            {%- endfor %}
    )
    select * from fresh_of_changed
    union all
    select
        {%- for column in columns %}
        {% if column.name | lower in key_values -%}
        {{ key_values[column.name | lower] }}
        {%- else -%}
        null
        {%- endif %} as {{ adapter.quote(column.name) }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ changed }}
    where not exists (
        select 1 from fresh_of_changed
        where {% for key in key_columns -%}
        fresh_of_changed.{{ key }} = {{ changed }}.{{ key }}{{ ' and ' if not loop.last }}
        {%- endfor %}
    )
    ) as rows_of_changed_keys
{%- endmacro %}


{#- Post-hook of the facts kept by key: remove the tombstones of rows_of_changed_keys (the
    only rows whose `column` is null; it is tested not_null). Runs inside the model's
    transaction, so no reader sees a tombstone. -#}
{% macro delete_tombstones(column) -%}
    {{ return(adapter.dispatch('delete_tombstones', 'crm_warehouse')(column)) }}
{%- endmacro %}

{% macro default__delete_tombstones(column) -%}
    delete from {{ this }} where {{ column }} is null
{%- endmacro %}

{#- Parquet tables on Spark take no DELETE: the table is rewritten without the tombstones
    (macros/portable/spark_delete_insert.sql). Delta tables take the DELETE. Spark has no
    transaction around the model and its post-hook, so a reader in between can see a
    tombstone: read the marts after the build. -#}
{% macro spark__delete_tombstones(column) -%}
    {%- if config.get('file_format', 'parquet') in ['delta', 'iceberg', 'hudi'] -%}
        {{ return(default__delete_tombstones(column)) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return('select 1') }}
    {%- endif -%}
    {{ spark_rewrite_table(this, "select * from " ~ this ~ " where " ~ column ~ " is not null") }}
{%- endmacro %}


{#-
    Identity models kept by key (int_identifiers_normalised, int_identity_records_unioned,
    int_identifiers_blocked, int_identity_edges, int_identifiers_linked,
    int_source_records_resolved, identity_links). Each starts from the records the night
    touched: a staging row written after the model's _loaded_through (the same watermark as
    the facts), plus every record of a mapped export, stored or current (its staging is
    rebuilt in full and can lose an order); each model then widens that set as its own
    rows require (see its header). All of them stamp the same _loaded_through.
-#}

{#- The staging models kept by key that hold identity records: model -> (source, the
    record key as an expression over the model's columns). -#}
{% macro identity_staging() -%}
    {{ return({
        'stg_shopify__orders': ('shopify_orders', 'order_name'),
        'stg_tmall__orders': ('tmall_orders', 'order_id'),
        'stg_pos__receipt_lines': ('pos_transactions', 'receipt_key'),
        'stg_loyalty__members': ('loyalty_members', 'card_no'),
        'stg_social__events': ('social_events', social_record_key('platform', 'handle')),
        'stg_service__interactions': ('service_interactions', 'interaction_id'),
    }) }}
{%- endmacro %}


{#- The body of the `changed_records` CTE: (source, record_key) of the records this run
    rewrites. stored_records=false for a model not keyed by record (its own table cannot
    name the mapped-export records it holds). -#}
{% macro identity_changed_records(stored_records=true) -%}
    {{ keys_with_new_staging_rows(
        identity_staging(), 'record_key', ref('stg_generic__orders'), 'order_key', stored_records,
    ) }}
{%- endmacro %}


{#- The keys (source, `key_name`) with a row in one of the staging models kept by key
    (model -> (source, key expression)) written after this model's _loaded_through, every
    key of the mapped exports (`generic_relation`, key column `generic_key`: its staging is
    rebuilt in full) and, if `stored`, every mapped-export key this model holds (one that
    disappeared gets its tombstone). -#}
{% macro keys_with_new_staging_rows(kept_staging, key_name, generic_relation, generic_key, stored=true) -%}
    {%- for model, (key_source, key_sql) in kept_staging.items() %}
    select '{{ key_source }}' as source, {{ key_sql }} as {{ key_name }}
    from {{ ref(model) }}
    where {{ after_watermark('_loaded_through') }}
    union
    {%- endfor %}
    select 'generic_orders' as source, {{ generic_key }} as {{ key_name }}
    from {{ generic_relation }}
    {%- if stored %}
    union
    select source, {{ key_name }} from {{ this }} where source = 'generic_orders'
    {%- endif %}
{%- endmacro %}


{#- The body of the `changed_records` CTE of the models downstream of int_identifiers_linked
    (int_source_records_resolved, identity_links): the records it wrote after this model's
    _loaded_through (the affected set), and the touched ones (a record no longer in the
    graph gets a tombstone). -#}
{% macro identity_records_relinked() -%}
    {{ identity_changed_records() }}
    union
    select source, record_key
    from {{ ref('int_identifiers_linked') }}
    where {{ after_watermark('_loaded_through') }}
{%- endmacro %}


{#- Condition on a source's rows: the record (key_sql) is one this run rewrites (always true
    in a full build). -#}
{% macro is_changed_record(record_source, key_sql) -%}
    {{ is_changed_key('changed_records', 'record_key', record_source, key_sql) }}
{%- endmacro %}


{#- Condition on a source's rows: their key (key_sql) is in CTE `changed` (columns source,
    `key_name`) for `key_source`; always true in a full build. -#}
{% macro is_changed_key(changed, key_name, key_source, key_sql) -%}
    {%- if is_incremental() -%}
    {{ key_sql }} in (select {{ key_name }} from {{ changed }} where source = '{{ key_source }}')
    {%- else -%}
    1 = 1
    {%- endif -%}
{%- endmacro %}


{#- The value of _loaded_through for the rows an identity model writes. -#}
{% macro identity_loaded_through() -%}
    {{ staging_loaded_through(identity_staging().keys() | list) }}
{%- endmacro %}


{#- The stored orders (source, order_key) of this model whose rate, rate source or rate date
    int_fx_rates_resolved now gives differently: a rate delivered after the orders it
    converts (orders, int_orders_converted). -#}
{% macro orders_with_changed_rates() -%}
    select stored.source, stored.order_key
    from {{ this }} as stored
    inner join {{ ref('int_fx_rates_resolved') }} as rates
        on stored.currency = rates.currency
        and stored.order_date = rates.rate_day
    where stored.fx_rate is distinct from rates.rate
        or stored.fx_rate_source is distinct from rates.rate_source
        or stored.fx_rate_date is distinct from rates.rate_date
{%- endmacro %}
