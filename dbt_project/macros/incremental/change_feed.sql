{#-
    Change feed of the staging models kept by key (docs/incremental.md).

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
            where {{ loaded_after_watermark('_loaded_at') }}
        )
    )
    {%- else -%}
    {{ relation }}
    {%- endif -%}
{%- endmacro %}


{#- Condition: `column` is later than this model's watermark (true for every row when the
    table holds no row yet). -#}
{% macro loaded_after_watermark(column) -%}
    (
        {{ column }} > (select max(_loaded_through) from {{ this }})
        or (select max(_loaded_through) from {{ this }}) is null
    )
{%- endmacro %}


{#- The value of _loaded_through for the rows this run writes: the newest load of `relation`. -#}
{% macro loaded_through(relation) -%}
    (select max(_loaded_at) from {{ relation }})
{%- endmacro %}
