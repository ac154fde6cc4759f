{#- A double-precision float type. dbt.type_float() is FLOAT, which DuckDB (and Spark)
    read as 4-byte single precision: 0.7 would not survive it. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'crm_warehouse')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro duckdb__type_double() -%}
    double
{%- endmacro %}

{% macro spark__type_double() -%}
    double
{%- endmacro %}
