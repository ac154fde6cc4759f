{#-
    materialized_cte(): the keyword that makes a CTE a barrier to the optimiser, written
    between its name and its body (`name as {{ materialized_cte() }} (...)`).

    A model kept by key restricts a large table to the night's keys and joins the few rows
    left with other tables. DuckDB's join order put the restriction last when the keys'
    cardinality was hard to estimate (a union of several change feeds): it joined every
    identifier of the history first (int_identity_edges at L: 11 M rows, 8 s, for 48 k
    kept). A materialised CTE computes the restriction on its own. Spark SQL has no such
    keyword (its planner pushes the semi-join down itself): nothing there.
-#}
{% macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'crm_warehouse')()) }}
{%- endmacro %}

{% macro default__materialized_cte() -%}
{%- endmacro %}

{% macro duckdb__materialized_cte() -%}
    materialized
{%- endmacro %}
