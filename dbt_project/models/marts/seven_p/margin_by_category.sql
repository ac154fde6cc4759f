{#- Profitability: one row per catalogue category of the products sold on paid order lines
    (macro costed_order_lines); category null = SKUs missing from the catalogue. -#}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='category',
        on_schema_change='fail',
        tags=['weekly'],
    )
}}
{%- if is_incremental() %}
{{ kept_for_the_week() }}
{%- else %}
with

lines as (

    {{ costed_order_lines() }}

),

final as (

    select
        category,
        count(distinct product_sku) as products,
        {{ margin_figures() }},
        -- the date of the week's build, which the figures stay at until the next one
        max(as_of_date) as as_of_date
    from lines
    group by category

)

select * from final
{%- endif %}
