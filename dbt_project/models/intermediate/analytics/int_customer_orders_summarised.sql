{#- One row per customer with a paid order (orders.is_paid, resolved customer_id): the
    figures of their orders and order lines that do not move with the as-of date. The
    compact base of int_customer_purchases_summarised (which adds t_days, the one figure
    that does) and of promotion_results (each customer's first paid order).

    Kept by customer (delete+insert on customer_id; docs/incremental.md, "Bases kept by
    another key"): a night recomputes, from all their orders, the customers an order joined
    (the orders the orders mart wrote after this model's _built_at; an order is rewritten
    whenever one of its lines is) or left (the customer of the rows it replaced since then,
    from its log), and deletes the customers left with no paid order (a tombstone). The
    cost of goods values the lines at the catalogue's current unit cost, which a new
    catalogue or a new exchange rate can move for every customer: the rows carry a checksum
    of the (sku, unit cost) pairs they were valued with, and a night that finds another
    checksum recomputes every customer. With var as_of_date set, orders after it are left
    out (a change of the var rebuilds the model: its fingerprint changes); without it the
    as-of date is the newest paid order's day, which no paid order is after. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='customer_id',
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('paid_orders') }}",
    )
}}

{%- set costs_checksum -%}
    (
        select cast(coalesce(sum(hash(sku, unit_cost_reporting)), 0) as decimal(38, 0))
        from {{ ref('products') }}
    )
{%- endset %}

with

{% if is_incremental() -%}
-- every stored customer when the catalogue's costs moved since the rows were valued
costs_moved as (

    select count(*) > 0 as moved
    from {{ this }}
    where _costs_checksum <> {{ costs_checksum }}

),

changed_customers as (

    select customer_id
    from {{ ref('orders') }}
    where {{ after_watermark('_built_at', '_built_at') }}
        and customer_id is not null
    union
    select customer_id
    from {{ rows_replaced_since_built(ref('orders'), ['customer_id']) }} as left_customers
    where customer_id is not null
    union
    select customer_id
    from {{ ref('orders') }}
    where customer_id is not null
        and (select moved from costs_moved)
    union
    select customer_id
    from {{ this }}
    where (select moved from costs_moved)

),
{%- endif %}

paid_orders as (

    select
        order_id,
        customer_id,
        order_date,
        ordered_at,
        status,
        net_amount_reporting
    from {{ ref('orders') }}
    where is_paid
        and customer_id is not null
        {%- if var('as_of_date', none) %}
        and order_date <= {{ as_of_date() }}
        {%- endif %}
        {%- if is_incremental() %}
        and customer_id in (select customer_id from changed_customers)
        {%- endif %}

),

purchase_days as (

    select
        customer_id,
        order_date,
        count(*) as orders_on_day,
        sum(net_amount_reporting) as day_revenue
    from paid_orders
    group by customer_id, order_date

),

purchase_days_numbered as (

    select
        purchase_days.*,
        min(order_date) over (partition by customer_id) as first_purchase_date
    from purchase_days

),

purchases as (

    select
        customer_id,
        min(order_date) as first_purchase_date,
        max(order_date) as last_purchase_date,
        cast(sum(orders_on_day) as {{ dbt.type_bigint() }}) as paid_orders,
        count(*) as purchase_days,
        sum(day_revenue) as net_revenue,
        sum(case when order_date > first_purchase_date then day_revenue end) as repeat_revenue
    from purchase_days_numbered
    group by customer_id

),

-- the customer's first paid order, by (ordered_at, order_id)
first_orders as (

    select customer_id, order_id as first_order_id
    from (
        select
            customer_id,
            order_id,
            row_number() over (
                partition by customer_id
                order by ordered_at, order_id
            ) as order_rank
        from paid_orders
    ) as ranked
    where order_rank = 1

),

-- The lines of paid orders not fully refunded, at the catalogue's current unit cost
-- (macro costed_order_lines), summed as the other margin marts sum them (macro
-- margin_figures): the figures of margin_by_customer and the cost of goods of the CLV
-- input.
costed_lines as (

    select customer_id, order_id, product_sku, quantity, revenue, cost
    from ({{ costed_order_lines() }}) as lines
    where customer_id is not null
        {%- if is_incremental() %}
        and customer_id in (select customer_id from changed_customers)
        {%- endif %}

),

line_figures as (

    select
        customer_id,
        count(distinct product_sku) as products,
        {{ margin_figures() }}
    from costed_lines
    group by customer_id

),

final as (

    select
        purchases.customer_id,
        purchases.first_purchase_date,
        purchases.last_purchase_date,
        purchases.paid_orders,
        purchases.purchase_days,
        purchases.net_revenue,
        purchases.repeat_revenue,
        first_orders.first_order_id,
        -- the figures of the lines of orders not fully refunded (null when none)
        line_figures.products,
        line_figures.order_lines,
        line_figures.orders,
        line_figures.units,
        line_figures.revenue,
        line_figures.costed_revenue,
        line_figures.cost,
        line_figures.margin,
        line_figures.margin_rate,
        line_figures.lines_without_cost,
        line_figures.revenue_without_cost,
        {{ costs_checksum }} as _costs_checksum,
        {{ run_timestamp() }} as _built_at
    from purchases
    inner join first_orders
        on purchases.customer_id = first_orders.customer_id
    left join line_figures
        on purchases.customer_id = line_figures.customer_id

)

{% if is_incremental() %}

{{ rows_of_changed_keys('final', 'changed_customers', ['customer_id'], ['customer_id']) }}

{% else %}

select * from final

{% endif %}
