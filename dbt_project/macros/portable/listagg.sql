{#- dbt-spark's listagg drops the ORDER BY (collect_list gives no order, with a warning),
    so the text would differ between runs and from DuckDB. Spark 4 has the SQL standard
    listagg ... within group (order by ...). -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if limit_num -%}
        {{ exceptions.raise_compiler_error("listagg with limit_num is not implemented for Spark") }}
    {%- endif -%}
    listagg({{ measure }}, {{ delimiter_text }})
    {%- if order_by_clause %} within group ({{ order_by_clause }}){% endif %}
{%- endmacro %}
