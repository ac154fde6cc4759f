-- One row per order across Shopify, Tmall and the stores' POS receipts, with the customer
-- it resolved to (null when anonymous) and amounts in both the order's currency and the
-- reporting currency.

with

orders as (

    select * from {{ ref('int_orders_converted') }}

),

order_lines as (

    select
        source,
        order_key,
        count(*) as line_count,
        sum(quantity) as item_quantity
    from {{ ref('int_order_lines_unioned') }}
    group by source, order_key

),

resolved_records as (

    select source, record_key, customer_id
    from {{ ref('int_source_records_resolved') }}

),

final as (

    select
        {{ dbt.concat(['orders.source', "':'", 'orders.order_key']) }} as order_id,
        orders.order_key,
        orders.source,
        orders.channel,
        orders.store_id,
        resolved_records.customer_id,

        orders.ordered_at,
        orders.order_date,
        orders.status,
        orders.is_paid,
        orders.is_cancelled,
        orders.payment_method,
        orders.discount_code,
        coalesce(order_lines.line_count, 0) as line_count,
        order_lines.item_quantity,

        orders.currency,
        orders.gross_amount,
        orders.discount_amount,
        orders.refunded_amount,
        orders.net_amount,

        orders.reporting_currency,
        orders.fx_rate,
        orders.gross_amount_reporting,
        orders.discount_amount_reporting,
        orders.refunded_amount_reporting,
        orders.net_amount_reporting

    from orders
    left join order_lines
        on orders.source = order_lines.source
        and orders.order_key = order_lines.order_key
    left join resolved_records
        on orders.source = resolved_records.source
        and orders.order_key = resolved_records.record_key

)

select * from final
