{#- Product: one row per pair of SKUs (sku_a < sku_b) bought in the same paid order on or
    before the run date, with support, confidence both ways and lift over all paid orders
    that have a SKU line. Only pairs with support >= var affinity_min_support and at
    least var affinity_min_orders orders together are kept. -#}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['sku_a', 'sku_b'],
        on_schema_change='fail',
        tags=['weekly'],
    )
}}
{%- if is_incremental() %}
{{ kept_for_the_week() }}
{%- else %}
{%- set as_of = as_of_date() %}

with

baskets as (

    select distinct
        order_lines.order_id,
        order_lines.product_sku as sku
    from {{ ref('order_lines') }} as order_lines
    inner join {{ ref('orders') }} as orders
        on order_lines.order_id = orders.order_id
    where orders.is_paid
        and orders.order_date <= {{ as_of }}
        and order_lines.product_sku is not null
        and order_lines.quantity > 0

),

order_total as (

    select count(distinct order_id) as total_orders from baskets

),

sku_orders as (

    select
        sku,
        count(*) as orders
    from baskets
    group by sku

),

pairs as (

    select
        a.sku as sku_a,
        b.sku as sku_b,
        count(*) as orders_with_both
    from baskets as a
    inner join baskets as b
        on a.order_id = b.order_id
        and a.sku < b.sku
    group by a.sku, b.sku

),

final as (

    select
        pairs.sku_a,
        pairs.sku_b,
        order_total.total_orders,
        sku_a_orders.orders as orders_with_a,
        sku_b_orders.orders as orders_with_b,
        pairs.orders_with_both,
        cast(pairs.orders_with_both as {{ type_double() }}) / order_total.total_orders
            as support,
        cast(pairs.orders_with_both as {{ type_double() }}) / sku_a_orders.orders
            as confidence_a_to_b,
        cast(pairs.orders_with_both as {{ type_double() }}) / sku_b_orders.orders
            as confidence_b_to_a,
        cast(pairs.orders_with_both as {{ type_double() }}) * order_total.total_orders
        / (cast(sku_a_orders.orders as {{ type_double() }}) * sku_b_orders.orders) as lift,
        -- the date of the week's build, which the pairs stay at until the next one
        {{ as_of }} as as_of_date
    from pairs
    cross join order_total
    inner join sku_orders as sku_a_orders
        on pairs.sku_a = sku_a_orders.sku
    inner join sku_orders as sku_b_orders
        on pairs.sku_b = sku_b_orders.sku
    where pairs.orders_with_both >= {{ var('affinity_min_orders') }}
        and pairs.orders_with_both >= {{ var('affinity_min_support') }} * order_total.total_orders

)

select * from final
{%- endif %}
