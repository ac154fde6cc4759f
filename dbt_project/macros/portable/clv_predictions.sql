{#-
    clv_predictions(): the relation holding customer_clv's rows on this engine.

    On DuckDB the dbt Python model customer_clv computes them in the same build (so a ref,
    and the reader runs after it); Spark cannot run that model and reads the Parquet copy
    the DuckDB build wrote (source clv.customer_clv, enabled on other engines only).
    dbt records the ref or the source at parse time, for the target being parsed.
-#}
{% macro clv_predictions() -%}
    {%- if target.type == 'duckdb' -%}
        {{ ref('customer_clv') }}
    {%- else -%}
        {{ source('clv', 'customer_clv') }}
    {%- endif -%}
{%- endmacro %}
