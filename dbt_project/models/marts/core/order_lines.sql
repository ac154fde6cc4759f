-- One row per order line (Shopify line item, Tmall item, POS receipt line), with its
-- order's customer, day and exchange rate; line amounts in the order's currency and in
-- the reporting currency.
--
-- Kept by order (delete+insert on order_id; docs/incremental.md, macros in
-- macros/incremental/change_feed.sql): an incremental run rewrites all the lines of every
-- order the orders mart wrote since this model last wrote (orders._built_at after this
-- model's _built_at). The orders mart runs first and rewrites an order whenever its
-- header, its lines, its customer or its rate changed, and its order-level columns are
-- the ones copied here. Lines of mapped exports (generic_orders) are all rewritten, like
-- their orders: an order that disappeared there must lose its lines (a tombstone deletes
-- them). A change to what the model reads rebuilds it in full (its fingerprint changes).

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_id',
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('source') }}",
    )
}}

with

{% if is_incremental() -%}
changed_orders as (

    -- orders the orders mart wrote since this model last wrote
    select order_id from {{ ref('orders') }}
    where {{ after_watermark('_built_at', '_built_at') }}
    union
    -- mapped exports: every order, stored or current
    select order_id from {{ this }} where source = 'generic_orders'
    union
    select order_id from {{ ref('orders') }} where source = 'generic_orders'

),
{%- endif %}

order_lines as (

    select * from {{ ref('int_order_lines_unioned') }}

),

orders as (

    select * from {{ ref('orders') }}
    {%- if is_incremental() %}
    -- only the changed orders: the join below then reads the lines once, against them
    where order_id in (select order_id from changed_orders)
    {%- endif %}

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
            as line_amount_reporting,

        -- the change feed's watermark (docs/incremental.md)
        {{ run_timestamp() }} as _built_at

    from order_lines
    inner join orders
        on order_lines.source = orders.source
        and order_lines.order_key = orders.order_key

)

{% if is_incremental() %}

{{ rows_of_changed_keys(
    'final', 'changed_orders', ['order_id'], 'order_id', 'changed_orders.order_id',
) }}

{% else %}

select * from final

{% endif %}
