{{ config(meta={'dagster': {'ref': {'name': 'margin_by_product'}}}) }}

-- The profitability marts slice the same order lines: product, category and brand totals
-- agree exactly, and the customer mart holds the identified part of them. Returns the
-- figures that disagree. The first three are on a weekly cadence (tag weekly) and the
-- customer mart is built every night, so the two sides slice the same lines only on a run
-- that builds the weekly ones (named in CRM_REBUILD_MODELS, or --full-refresh); on the
-- other nights only the three weekly marts are compared.

{%- set figures = ['order_lines', 'revenue', 'costed_revenue', 'cost', 'lines_without_cost'] %}
{%- set weekly_built = flags.FULL_REFRESH
    or 'margin_by_product' in env_var('CRM_REBUILD_MODELS', '').split(',') %}

with

totals as (

    {%- for mart in ['margin_by_product', 'margin_by_category', 'margin_by_brand', 'margin_by_customer'] %}
    select
        '{{ mart }}' as mart,
        {%- for figure in figures %}
        coalesce(sum({{ figure }}), 0) as {{ figure }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ ref(mart) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

products as (

    select * from totals where mart = 'margin_by_product'

)

select totals.*
from totals
cross join products
where totals.mart in ('margin_by_category', 'margin_by_brand')
    and (
        {%- for figure in figures %}
        totals.{{ figure }} <> products.{{ figure }}{{ " or" if not loop.last }}
        {%- endfor %}
    )
    {%- if weekly_built %}
    or totals.mart = 'margin_by_customer'
    and totals.order_lines > products.order_lines
    {%- endif %}
