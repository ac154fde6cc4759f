{#- One row per customer with a paid order (orders.is_paid, resolved customer_id): the
    figures of their orders and order lines that do not move with the as-of date. The
    compact base of int_customer_purchases_summarised (which adds t_days, the one figure
    that does), margin_by_customer (the lines' revenue and cost), int_customers_classified (the
    order and unit figures its behaviour classes are decided on) and promotion_results
    (each customer's first paid order).

    Kept by customer (delete+insert on customer_id; docs/incremental.md, "Bases kept by
    another key"): a night recomputes, from all their orders, the customers an order joined
    (the orders the orders mart wrote after this model's _built_at; an order is rewritten
    whenever one of its lines is) or left (the customer of the rows it replaced since then,
    from its log), and deletes the customers left with no paid order (a tombstone). Some
    figures also read the catalogue (the current unit cost, the list price within the
    category, the brand), which a new catalogue or a new exchange rate can move for every
    customer: the rows carry a checksum of what they read of it, and a night that finds
    another checksum recomputes every customer. With var as_of_date set, orders after it
    are left out (a change of the var rebuilds the model: its fingerprint changes); without
    it the as-of date is the newest paid order's day, which no paid order is after. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='customer_id',
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('paid_orders') }}",
    )
}}

{#- what the rows read of the catalogue: the unit cost (the lines' cost), the list price
    within the category (the cheap units) and the brand -#}
{%- set catalogue_checksum -%}
    (
        select cast(
            coalesce(sum(hash(sku, unit_cost_reporting, list_price_reporting, category, brand)), 0)
            as decimal(38, 0)
        )
        from {{ ref('products') }}
    )
{%- endset %}

with

{% if is_incremental() -%}
-- every stored customer when the catalogue moved since the rows were computed
catalogue_moved as (

    select count(*) > 0 as moved
    from {{ this }}
    where _catalogue_checksum <> {{ catalogue_checksum }}

),

changed_customers as (

    {{ customers_of_changed_orders() }}
    union
    select customer_id
    from {{ ref('orders') }}
    where is_paid
        and customer_id is not null
        and (select moved from catalogue_moved)
    union
    select customer_id
    from {{ this }}
    where (select moved from catalogue_moved)

),
{%- endif %}

paid_orders as (

    select
        order_id,
        customer_id,
        order_date,
        ordered_at,
        status,
        channel,
        case
            when discount_code is not null or discount_amount > 0 then 1
            else 0
        end as is_discounted,
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
        min(purchase_days.order_date) over (
            partition by purchase_days.customer_id
        ) as first_purchase_date
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

    select
        customer_id,
        order_id as first_order_id
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

order_mix as (

    select
        customer_id,
        cast(
            sum(case when channel = 'online' then 1 else 0 end) as {{ dbt.type_bigint() }}
        ) as online_orders,
        cast(
            sum(case when channel = 'store' then 1 else 0 end) as {{ dbt.type_bigint() }}
        ) as store_orders,
        cast(sum(is_discounted) as {{ dbt.type_bigint() }}) as discounted_orders
    from paid_orders
    group by customer_id

),

-- cheap = list price in the bottom price_sensitive_price_quantile of the product's
-- category: percent_rank() = (rank - 1) / (products in the category - 1), 0 when alone
catalogue as (

    select
        sku,
        brand,
        case
            when percent_rank() over (partition by category order by list_price_reporting)
                < {{ var('price_sensitive_price_quantile') }}
                then 1
            else 0
        end as is_cheap
    from {{ ref('products') }}
    where list_price_reporting is not null

),

-- purchased units: lines of paid orders with a positive quantity (returns excluded);
-- a SKU missing from the catalogue counts as neither cheap nor of any brand
purchased_lines as (

    select
        paid_orders.customer_id,
        catalogue.brand,
        coalesce(catalogue.is_cheap, 0) as is_cheap,
        order_lines.quantity
    from {{ ref('order_lines') }} as order_lines
    inner join paid_orders
        on order_lines.order_id = paid_orders.order_id
    left join catalogue
        on order_lines.product_sku = catalogue.sku
    where order_lines.quantity > 0
    {%- if is_incremental() %}
        -- the changed customers' lines before the join: the scan filters on the column
        and order_lines.customer_id in (select customer_id from changed_customers)
        {%- endif %}

),

unit_figures as (

    select
        customer_id,
        cast(sum(quantity) as {{ dbt.type_bigint() }}) as purchased_units,
        cast(sum(is_cheap * quantity) as {{ dbt.type_bigint() }}) as cheap_units
    from purchased_lines
    group by customer_id

),

-- the brand the customer bought most units of (ties: the first brand by name)
top_brands as (

    select
        customer_id,
        brand as top_brand,
        brand_units as top_brand_units
    from (
        select
            customer_id,
            brand,
            sum(quantity) as brand_units,
            row_number() over (
                partition by customer_id
                order by sum(quantity) desc, brand
            ) as brand_rank
        from purchased_lines
        where brand is not null
        group by customer_id, brand
    ) as brand_units
    where brand_rank = 1

),

-- The lines of paid orders not fully refunded, at the catalogue's current unit cost
-- (macro costed_order_lines), summed as the other margin marts sum them (macro
-- margin_figures): the figures of margin_by_customer and the cost of goods of the CLV
-- input.
costed_lines as (

    select
        customer_id,
        order_id,
        product_sku,
        quantity,
        revenue,
        cost
    from ({{ costed_order_lines('changed_customers' if is_incremental() else none) }}) as lines
    where customer_id is not null

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
        order_mix.online_orders,
        order_mix.store_orders,
        order_mix.discounted_orders,
        -- units of the lines with a positive quantity (null when none)
        unit_figures.purchased_units,
        unit_figures.cheap_units,
        top_brands.top_brand,
        top_brands.top_brand_units,
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
        {{ catalogue_checksum }} as _catalogue_checksum,
        {{ run_timestamp() }} as _built_at
    from purchases
    inner join first_orders
        on purchases.customer_id = first_orders.customer_id
    inner join order_mix
        on purchases.customer_id = order_mix.customer_id
    left join unit_figures
        on purchases.customer_id = unit_figures.customer_id
    left join top_brands
        on purchases.customer_id = top_brands.customer_id
    left join line_figures
        on purchases.customer_id = line_figures.customer_id

)

{% if is_incremental() %}

{{ rows_of_changed_keys('final', 'changed_customers', ['customer_id'], ['customer_id']) }}

{% else %}

select * from final

{% endif %}
