{#- Profitability: one row per customer with a paid order line (macro costed_order_lines);
    lines of anonymous orders are left out. Merchandise view: line revenue, not the
    order-level net revenue of customer_segments. -#}

with

lines as (

    {{ costed_order_lines() }}

),

final as (

    select
        customer_id,
        count(distinct product_sku) as products,
        {{ margin_figures() }}
    from lines
    where customer_id is not null
    group by customer_id

)

select * from final
