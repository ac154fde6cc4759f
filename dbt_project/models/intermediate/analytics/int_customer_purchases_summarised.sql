{#- One row per customer with at least one paid order on or before the as-of date: the
    frequency / recency / T / monetary summary the BG/NBD and Gamma-Gamma models read
    (model customer_clv), plus revenue and margin to date. A purchase is a distinct
    order_date with a paid order (several orders on one day are one purchase), as in the
    models' literature.

    An as-of mart over the compact base int_customer_orders_summarised, which holds every
    figure but T (the days from the first purchase to the as-of date, which moves every
    night): a night reads one row per buyer, not their orders and lines. -#}

{%- set as_of = as_of_date() %}

with

run_date as (

    select {{ as_of }} as as_of_date

),

purchases as (

    select * from {{ ref('int_customer_orders_summarised') }}

),

final as (

    select
        purchases.customer_id,
        purchases.first_purchase_date,
        purchases.last_purchase_date,
        purchases.paid_orders,
        purchases.purchase_days,
        purchases.purchase_days - 1 as frequency,
        {{ dbt.datediff('purchases.first_purchase_date', 'purchases.last_purchase_date', 'day') }}
            as recency_days,
        {{ dbt.datediff('purchases.first_purchase_date', 'run_date.as_of_date', 'day') }}
            as t_days,
        purchases.net_revenue,
        case
            when purchases.purchase_days > 1
                then {{ round_quotient('purchases.repeat_revenue', 'purchases.purchase_days - 1') }}
        end as monetary_value,
        coalesce(purchases.cost, 0) as cost_of_goods,
        purchases.net_revenue - coalesce(purchases.cost, 0) as historical_margin,
        coalesce(purchases.order_lines, 0) as costed_order_lines,
        coalesce(purchases.lines_without_cost, 0) as lines_without_cost,
        run_date.as_of_date
    from purchases
    cross join run_date

)

select * from final
