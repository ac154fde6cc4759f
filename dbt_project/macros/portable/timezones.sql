{#-
    Time-zone conversions. DuckDB does them with timezone() (ICU); other engines differ
    (Postgres/Redshift/Trino: AT TIME ZONE; Spark: from_utc_timestamp/to_utc_timestamp),
    so every model goes through these macros and a new engine needs only a new
    <adapter>__ implementation here.

    Semantics (DuckDB types):
      to_local_timestamp(ts, tz)      timestamptz -> timestamp: wall-clock time in tz
      from_local_timestamp(ts, tz)    timestamp   -> timestamptz: ts read as wall-clock time in tz
      to_local_date(ts, tz)           timestamptz -> date: the calendar day in tz
    tz is a literal IANA zone name (from a dbt var), never data.
-#}

{% macro to_local_timestamp(ts, tz) -%}
    {{ return(adapter.dispatch('to_local_timestamp', 'crm_warehouse')(ts, tz)) }}
{%- endmacro %}

{% macro duckdb__to_local_timestamp(ts, tz) -%}
    timezone('{{ tz }}', {{ ts }})
{%- endmacro %}

{% macro default__to_local_timestamp(ts, tz) -%}
    ({{ ts }} at time zone '{{ tz }}')
{%- endmacro %}


{#- Spark's TIMESTAMP is an instant shown in the session zone, which the spark profile
    sets to UTC: from_utc_timestamp shifts an instant to the zone's wall clock, and
    to_utc_timestamp reads a wall clock in the zone back to the instant. -#}
{% macro spark__to_local_timestamp(ts, tz) -%}
    from_utc_timestamp({{ ts }}, '{{ tz }}')
{%- endmacro %}


{% macro from_local_timestamp(ts, tz) -%}
    {{ return(adapter.dispatch('from_local_timestamp', 'crm_warehouse')(ts, tz)) }}
{%- endmacro %}

{% macro duckdb__from_local_timestamp(ts, tz) -%}
    timezone('{{ tz }}', {{ ts }})
{%- endmacro %}

{% macro default__from_local_timestamp(ts, tz) -%}
    ({{ ts }} at time zone '{{ tz }}')
{%- endmacro %}


{% macro spark__from_local_timestamp(ts, tz) -%}
    to_utc_timestamp({{ ts }}, '{{ tz }}')
{%- endmacro %}


{% macro to_local_date(ts, tz) -%}
    cast({{ to_local_timestamp(ts, tz) }} as date)
{%- endmacro %}
