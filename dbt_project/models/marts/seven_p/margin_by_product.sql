{#- Profitability: one row per product SKU sold on paid order lines (macro
    costed_order_lines); product_sku null = lines that carry no SKU. -#}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='product_sku',
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
        product_sku,
        max(product_name) as product_name,
        max(category) as category,
        max(brand) as brand,
        {{ margin_figures() }},
        -- the date of the week's build, which the figures stay at until the next one
        max(as_of_date) as as_of_date
    from lines
    group by product_sku

)

select * from final
{%- endif %}
