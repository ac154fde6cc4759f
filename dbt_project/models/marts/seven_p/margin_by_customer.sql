{#- Profitability: one row per customer with a paid order line (macro costed_order_lines:
    lines of paid orders not fully refunded, at the catalogue's current unit cost); lines
    of anonymous orders are left out. Merchandise view: line revenue, not the order-level
    net revenue of customer_segments.

    The figures (macro margin_figures) are summed per customer in the compact base
    int_customer_orders_summarised (kept by customer, every buyer revalued when the
    catalogue's costs move): a night reads one row per buyer, not the lines. -#}

with

final as (

    select
        customer_id,
        products,
        order_lines,
        orders,
        units,
        revenue,
        costed_revenue,
        cost,
        margin,
        margin_rate,
        lines_without_cost,
        revenue_without_cost
    from {{ ref('int_customer_orders_summarised') }}
    -- buyers whose every paid order was refunded in full have no line here
    where order_lines is not null

)

select * from final
