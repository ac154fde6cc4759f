{#- The date every analysis is computed as of: var as_of_date when set (a run date or a
    partition key), else the latest paid order date in the warehouse, so a re-run on the
    same data gives the same answer whatever today's date is. -#}
{% macro as_of_date() -%}
    {%- if var('as_of_date', none) -%}
        cast('{{ var("as_of_date") }}' as date)
    {%- else -%}
        (select max(order_date) from {{ ref('orders') }} where is_paid)
    {%- endif -%}
{%- endmacro %}
