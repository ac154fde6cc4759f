{#- The order lines every profitability mart (margin_by_*) sums, as a select statement:
    lines of paid orders on or before the run date, except fully refunded orders (their
    goods are taken as returned, as in int_customer_purchases_summarised). revenue is the
    line amount after its own discount in the reporting currency; cost = quantity x the
    catalogue's unit cost in the reporting currency, null when the SKU has no cost (such a
    line is counted apart, never as zero cost). Order-level shipping, taxes and partial
    refunds stay on orders: they are not attributable to a product. as_of_date is the run
    date the lines are taken as of. With `customers` (a relation or CTE with a
    customer_id column), only the lines of those customers' orders: a base kept by
    customer restricts both sides of the join before joining. -#}
{% macro costed_order_lines(customers=none) -%}
    select
        order_lines.order_line_id,
        order_lines.order_id,
        order_lines.customer_id,
        order_lines.product_sku,
        coalesce(products.product_name, order_lines.product_name) as product_name,
        products.category,
        products.brand,
        order_lines.quantity,
        order_lines.line_amount_reporting as revenue,
        case
            when products.unit_cost_reporting is not null
                then order_lines.quantity * products.unit_cost_reporting
        end as cost,
        -- the run date the lines are taken as of (a mart on a weekly cadence shows it)
        {{ as_of_date() }} as as_of_date
    from {{ ref('order_lines') }} as order_lines
    inner join {{ ref('orders') }} as orders
        on order_lines.order_id = orders.order_id
    left join {{ ref('products') }} as products
        on order_lines.product_sku = products.sku
    where orders.is_paid
        and orders.status <> 'refunded'
        and orders.order_date <= {{ as_of_date() }}
        {%- if customers %}
        and orders.customer_id in (select customer_id from {{ customers }})
        and order_lines.customer_id in (select customer_id from {{ customers }})
        {%- endif %}
{%- endmacro %}


{#- The profitability figures of a group of costed_order_lines rows (aggregates only). -#}
{% macro margin_figures() -%}
        count(*) as order_lines,
        count(distinct order_id) as orders,
        cast(sum(quantity) as {{ dbt.type_bigint() }}) as units,
        sum(revenue) as revenue,
        coalesce(sum(case when cost is not null then revenue end), 0) as costed_revenue,
        coalesce(sum(cost), 0) as cost,
        coalesce(sum(case when cost is not null then revenue end), 0) - coalesce(sum(cost), 0)
            as margin,
        case
            when sum(case when cost is not null then revenue end) <> 0
                then cast(
                    sum(case when cost is not null then revenue end) - sum(cost)
                    as {{ type_double() }}
                ) / cast(sum(case when cost is not null then revenue end) as {{ type_double() }})
        end as margin_rate,
        cast(sum(case when cost is null then 1 else 0 end) as {{ dbt.type_bigint() }}) as lines_without_cost,
        coalesce(sum(case when cost is null then revenue end), 0) as revenue_without_cost
{%- endmacro %}
