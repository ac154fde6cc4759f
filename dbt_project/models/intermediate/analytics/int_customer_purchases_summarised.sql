{#- One row per customer with at least one paid order on or before the as-of date: the
    frequency / recency / T / monetary summary the BG/NBD and Gamma-Gamma models read
    (asset customer_clv), plus revenue and margin to date. A purchase is a distinct
    order_date with a paid order (several orders on one day are one purchase), as in the
    models' literature. -#}

{%- set as_of = as_of_date() %}

with

run_date as (

    select {{ as_of }} as as_of_date

),

paid_orders as (

    select
        orders.order_id,
        orders.customer_id,
        orders.order_date,
        orders.status,
        orders.net_amount_reporting,
        run_date.as_of_date
    from {{ ref('orders') }} as orders
    cross join run_date
    where orders.is_paid
        and orders.customer_id is not null
        and orders.order_date <= run_date.as_of_date

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

-- Cost of goods: quantity x the catalogue's unit cost in the reporting currency. Lines
-- of fully refunded orders cost nothing (the goods are taken as returned); lines whose
-- SKU has no catalogue cost count no cost and are counted in lines_without_cost.
line_costs as (

    select
        paid_orders.customer_id,
        count(*) as costed_order_lines,
        cast(
            sum(case when products.unit_cost_reporting is null then 1 else 0 end)
            as {{ dbt.type_bigint() }}
        ) as lines_without_cost,
        sum(
            case
                when products.unit_cost_reporting is not null
                    then order_lines.quantity * products.unit_cost_reporting
                else 0
            end
        ) as cost_of_goods
    from {{ ref('order_lines') }} as order_lines
    inner join paid_orders
        on order_lines.order_id = paid_orders.order_id
    left join {{ ref('products') }} as products
        on order_lines.product_sku = products.sku
    where paid_orders.status <> 'refunded'
    group by paid_orders.customer_id

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
        coalesce(line_costs.cost_of_goods, 0) as cost_of_goods,
        purchases.net_revenue - coalesce(line_costs.cost_of_goods, 0) as historical_margin,
        coalesce(line_costs.costed_order_lines, 0) as costed_order_lines,
        coalesce(line_costs.lines_without_cost, 0) as lines_without_cost,
        run_date.as_of_date
    from purchases
    cross join run_date
    left join line_costs
        on purchases.customer_id = line_costs.customer_id

)

select * from final
