-- One row per order line across channels (Shopify line items, Tmall items, POS receipt
-- lines, mapped exports' lines), in the order's own currency (int_orders_unioned.currency). line_amount is what
-- the line sold for after its own discount: Shopify quantity x price - line discount,
-- Tmall quantity x price, POS as delivered. Order-level shipping, taxes and refunds are
-- not spread over lines.

with

shopify_order_lines as (

    select * from {{ ref('stg_shopify__order_lines') }}

),

tmall_order_items as (

    select * from {{ ref('stg_tmall__order_items') }}

),

pos_receipt_lines as (

    select * from {{ ref('stg_pos__receipt_lines') }}

),

generic_order_lines as (

    select * from {{ ref('stg_generic__order_lines') }}

),

shopify as (

    select
        order_name as order_key,
        'shopify_orders' as source,
        line_number,
        sku as product_sku,
        product_name,
        quantity,
        unit_price,
        discount_amount,
        quantity * unit_price - coalesce(discount_amount, 0) as line_amount,
        cast(null as {{ dbt.type_string() }}) as line_status
    from shopify_order_lines

),

tmall as (

    select
        order_id as order_key,
        'tmall_orders' as source,
        line_number,
        sku as product_sku,
        title as product_name,
        quantity,
        unit_price,
        cast(null as decimal(18, 2)) as discount_amount,
        quantity * unit_price as line_amount,
        line_status
    from tmall_order_items

),

pos as (

    select
        receipt_key as order_key,
        'pos_transactions' as source,
        line_number,
        sku as product_sku,
        item_name as product_name,
        quantity,
        unit_price,
        discount_amount,
        line_amount,
        cast(null as {{ dbt.type_string() }}) as line_status
    from pos_receipt_lines

),

generic as (

    select
        order_key,
        'generic_orders' as source,
        line_number,
        sku as product_sku,
        product_name,
        quantity,
        unit_price,
        discount_amount,
        line_amount,
        cast(null as {{ dbt.type_string() }}) as line_status
    from generic_order_lines

),

unioned as (

    select * from shopify
    union all
    select * from tmall
    union all
    select * from pos
    union all
    select * from generic

)

select * from unioned
