-- One row per order line (Shopify line item, Tmall item, POS receipt line), with its
-- order's customer, day and exchange rate; line amounts in the order's currency and in
-- the reporting currency.

with

order_lines as (

    select * from {{ ref('int_order_lines_unioned') }}

),

orders as (

    select * from {{ ref('orders') }}

),

final as (

    select
        {{ dbt.concat([
            'orders.order_id', "':'", 'cast(order_lines.line_number as ' ~ dbt.type_string() ~ ')'
        ]) }} as order_line_id,
        orders.order_id,
        order_lines.line_number,
        orders.order_key,
        orders.source,
        orders.channel,
        orders.store_id,
        orders.customer_id,
        orders.ordered_at,
        orders.order_date,
        orders.is_paid,
        orders.is_cancelled,

        order_lines.product_sku,
        order_lines.product_name,
        order_lines.line_status,
        order_lines.quantity,
        order_lines.unit_price,
        order_lines.discount_amount,
        order_lines.line_amount,
        orders.currency,

        orders.reporting_currency,
        orders.fx_rate,
        cast(round(order_lines.line_amount * orders.fx_rate, 2) as decimal(18, 2))
            as line_amount_reporting

    from order_lines
    inner join orders
        on order_lines.source = orders.source
        and order_lines.order_key = orders.order_key

)

select * from final
