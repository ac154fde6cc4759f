{#-
    Date-keyed incremental facts (marts orders, order_lines, interactions).

    Each of those models is materialized='incremental', incremental_strategy='delete+insert',
    unique_key=<its business date>: an incremental run writes every row of each *affected*
    date, computed from the current upstream, and dbt first deletes the stored rows of the
    dates the new batch contains. Affected dates are
      (a) the dates (freshly computed and stored in {{ this }}) of every key whose source
          rows were delivered in the run's window (vars window_start / window_end), and
      (b) the dates of rows whose attributes that come from other tables changed since
          they were stored (identity merges, late FX rates, late line items...), found by
          comparing {{ this }} with the freshly computed rows.
    The helpers below are the parts the three models share; each model says which keys
    and columns it feeds them and why.
-#}


{#- var window_start / window_end as 'YYYY-MM-DD', or none when unset (null / empty).
    --vars '{window_start: 2025-01-03}' arrives as a YAML date, a quoted value as a string;
    both render the same. When the var is null (dbt_project.yml declares it so), env
    CRM_WINDOW_START / CRM_WINDOW_END: Dagster passes the run's window that way, as changed
    --vars make dbt re-parse every model. (var(name, default) is no fallback here: a var
    the project declares, even as null, never takes the default.) -#}
{% macro incremental_window_date(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {%- set value = env_var('CRM_WINDOW_START', '') if name == 'window_start'
            else env_var('CRM_WINDOW_END', '') -%}
    {%- endif -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = value | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', text) -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be an ISO landing date (YYYY-MM-DD) or null, not '" ~ text ~ "'"
        ) }}
    {%- endif -%}
    {{ return(text) }}
{%- endmacro %}


{#- SQL condition: the delivery date column lies in the run's window (both ends inclusive).
    An unset bound is open, so a null window (no vars: a manual or un-partitioned run)
    counts every delivery as in the window and recomputes every date. -#}
{% macro in_delivery_window(delivery_date_column) -%}
    {%- set window_start = incremental_window_date('window_start') -%}
    {%- set window_end = incremental_window_date('window_end') -%}
    {%- if window_start is not none and window_end is not none and window_start > window_end -%}
        {{ exceptions.raise_compiler_error(
            "window_start " ~ window_start ~ " is after window_end " ~ window_end
        ) }}
    {%- endif -%}
    {%- set conditions = [] -%}
    {%- if window_start is not none -%}
        {%- do conditions.append(delivery_date_column ~ " >= cast('" ~ window_start ~ "' as date)") -%}
    {%- endif -%}
    {%- if window_end is not none -%}
        {%- do conditions.append(delivery_date_column ~ " <= cast('" ~ window_end ~ "' as date)") -%}
    {%- endif -%}
    {%- if conditions -%}
        ({{ conditions | join(' and ') }})
    {%- else -%}
        (1 = 1)
    {%- endif -%}
{%- endmacro %}


{#- (source, order_key) of every order whose header or lines were delivered in the window,
    as int_orders_unioned / int_order_lines_unioned key them. Staging keeps the latest
    delivery of each key (_delivery_date), so a key is here when its current version landed
    in the window. Lines count on their own: Tmall items (宝贝报表) arrive in another file
    than their order, possibly on another day. Used by orders and order_lines, and for the
    POS receipts (store visits) by interactions (sources=['pos_transactions']). A model
    calling this inside {% if is_incremental() %} must declare the staging models it reads
    with `-- depends_on:` (dbt parses that block as not incremental). -#}
{% macro delivered_order_keys(sources=['shopify_orders', 'tmall_orders', 'pos_transactions', 'generic_orders']) -%}
    {%- set parts = {
        'shopify_orders': [('stg_shopify__orders', 'order_name'), ('stg_shopify__order_lines', 'order_name')],
        'tmall_orders': [('stg_tmall__orders', 'order_id'), ('stg_tmall__order_items', 'order_id')],
        'pos_transactions': [('stg_pos__receipt_lines', 'receipt_key')],
        'generic_orders': [('stg_generic__orders', 'order_key'), ('stg_generic__order_lines', 'order_key')],
    } -%}
    {%- set selects = [] -%}
    {%- for source in sources -%}
        {%- for model, key in parts[source] -%}
            {%- do selects.append(
                "select '" ~ source ~ "' as source, " ~ key ~ " as order_key from " ~ ref(model)
                ~ " where " ~ in_delivery_window('_delivery_date')
            ) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ selects | join('\n    union\n    ') }}
{%- endmacro %}


{#- Part (a): the dates of the delivered keys, both as freshly computed (where the key's
    rows go now) and as stored in {{ this }} (where its old rows must be deleted from: a
    corrected order can move to another day). `delivered` must be distinct on key_columns. -#}
{% macro dates_of_delivered_keys(fresh, delivered, key_columns, date_column) -%}
    select fresh.{{ date_column }} as affected_date
    from {{ fresh }} as fresh
    inner join {{ delivered }} as delivered
        on {% for key in key_columns -%}
        fresh.{{ key }} = delivered.{{ key }}{{ ' and ' if not loop.last }}
        {%- endfor %}
    union
    select stored.{{ date_column }} as affected_date
    from {{ this }} as stored
    inner join {{ delivered }} as delivered
        on {% for key in key_columns -%}
        stored.{{ key }} = delivered.{{ key }}{{ ' and ' if not loop.last }}
        {%- endfor %}
{%- endmacro %}


{#- Part (b): rows of {{ this }} and of the fresh computation that differ, whatever their
    delivery date: a row that appears, a row that disappears, or a row whose date or one of
    compare_columns changed (null-safe). Returns (stored_date, fresh_date) per changed row;
    both are affected (the old date loses the row, the new one gains it). Compare only the
    columns that can change without a delivery of the row's own key (attributes joined in
    from other tables); the model's own columns change only through (a). The columns are
    compared through row_fingerprint (macros/portable/row_fingerprint.sql). -#}
{% macro changed_rows(fresh, unique_id, date_column, compare_columns) -%}
    {#- Only id, date and a fingerprint of compare_columns go through the join, not the
        columns themselves: less to hash, hold and spill (docs/benchmarks.md). -#}
    select
        stored.{{ date_column }} as stored_date,
        fresh.{{ date_column }} as fresh_date
    from (
        select
            {{ unique_id }},
            {{ date_column }},
            {{ row_fingerprint(compare_columns) }} as row_fingerprint
        from {{ this }}
    ) as stored
    full outer join (
        select
            {{ unique_id }},
            {{ date_column }},
            {{ row_fingerprint(compare_columns) }} as row_fingerprint
        from {{ fresh }}
    ) as fresh
        on stored.{{ unique_id }} = fresh.{{ unique_id }}
    where stored.{{ unique_id }} is null
        or fresh.{{ unique_id }} is null
        or stored.{{ date_column }} is distinct from fresh.{{ date_column }}
        or stored.row_fingerprint <> fresh.row_fingerprint
{%- endmacro %}


{#- The rows an incremental run writes: every fresh row of an affected date, plus one
    marker row (all columns null but the date) for each affected date that has no row any
    more. delete+insert deletes only the unique_key values present in the new batch, so a
    date whose last row moved away or disappeared would otherwise keep its stale rows for
    ever; the marker makes dbt delete that date, and the model's post-hook
    (delete_incremental_markers) removes the marker in the same transaction.
    The marker is built from {{ this }}'s columns (the fresh CTE's columns cannot be listed
    at compile time; untyped nulls take the fresh rows' types in the union, which the
    reported types such as varchar(256) would not), so it relies on the fresh rows having
    {{ this }}'s column order: a
    reordered model needs --full-refresh (on_schema_change='fail' catches added, removed,
    renamed and retyped columns, not a pure reorder). -#}
{% macro rows_of_affected_dates(fresh, affected, date_column) -%}
    {%- set columns = adapter.get_columns_in_relation(this) -%}
    select * from {{ fresh }}
    where {{ date_column }} in (select affected_date from {{ affected }})
    union all
    select
        {%- for column in columns %}
        {% if column.name | lower == date_column | lower -%}
        {{ affected }}.affected_date
        {%- else -%}
        null
        {%- endif %} as {{ adapter.quote(column.name) }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ affected }}
    where {{ affected }}.affected_date is not null
        and not exists (
            select 1 from {{ fresh }}
            where {{ fresh }}.{{ date_column }} = {{ affected }}.affected_date
        )
{%- endmacro %}


{#- Post-hook of the date-keyed incremental models: remove the marker rows of
    rows_of_affected_dates (the only rows whose unique id is null; the id columns are
    tested not_null). Runs inside the model's transaction, so no reader sees a marker. -#}
{% macro delete_incremental_markers(unique_id) -%}
    {{ return(adapter.dispatch('delete_incremental_markers', 'crm_warehouse')(unique_id)) }}
{%- endmacro %}

{% macro default__delete_incremental_markers(unique_id) -%}
    delete from {{ this }} where {{ unique_id }} is null
{%- endmacro %}

{#- Parquet tables on Spark take no DELETE: the table is rewritten without the markers
    (macros/portable/spark_delete_insert.sql). Delta tables take the DELETE. Spark has no
    transaction around the model and its post-hook, so a reader in between can see the
    marker rows (null but for the date): read the marts after the build. -#}
{% macro spark__delete_incremental_markers(unique_id) -%}
    {%- if config.get('file_format', 'parquet') in ['delta', 'iceberg', 'hudi'] -%}
        {{ return(default__delete_incremental_markers(unique_id)) }}
    {%- endif -%}
    {%- if not execute -%}
        {{ return('select 1') }}
    {%- endif -%}
    {{ spark_rewrite_table(this, "select * from " ~ this ~ " where " ~ unique_id ~ " is not null") }}
{%- endmacro %}
