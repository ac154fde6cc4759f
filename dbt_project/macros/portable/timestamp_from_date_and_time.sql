{#-
    Combine a DATE column and a TIME column (POS exports deliver them separately) into a
    TIMESTAMP without time zone. DuckDB and Postgres add them directly; engines without a
    TIME type (Spark) hold the time as text, so the default goes through an ISO string.
-#}

{% macro timestamp_from_date_and_time(date_column, time_column) -%}
    {{ return(adapter.dispatch('timestamp_from_date_and_time', 'crm_warehouse')(date_column, time_column)) }}
{%- endmacro %}

{% macro duckdb__timestamp_from_date_and_time(date_column, time_column) -%}
    ({{ date_column }} + {{ time_column }})
{%- endmacro %}

{% macro default__timestamp_from_date_and_time(date_column, time_column) -%}
    cast(
        {{ dbt.concat([
            'cast(' ~ date_column ~ ' as ' ~ dbt.type_string() ~ ')',
            "' '",
            'cast(' ~ time_column ~ ' as ' ~ dbt.type_string() ~ ')'
        ]) }}
        as {{ dbt.type_timestamp() }}
    )
{%- endmacro %}
