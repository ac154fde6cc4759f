-- One row per order line (Shopify line item, Tmall item, POS receipt line), with its
-- order's customer, day and exchange rate; line amounts in the order's currency and in
-- the reporting currency.
--
-- Incremental by order_date (delete+insert), like orders (macros in
-- macros/incremental/incremental_by_date.sql): an incremental run rewrites every affected
-- order_date with all of that day's lines computed from the current upstream (the orders
-- mart is already up to date: it runs first). Affected dates are
--   (a) the order_date, now and as stored, of every order whose header or lines were
--       delivered in the run's window (vars window_start / window_end; unset = every
--       delivery): new lines, a corrected order that replaces its lines or moves to
--       another day, Tmall items that arrive after their order, a header that arrives
--       after its lines (lines without an order are not in this mart);
--   (b) the order_date, now and as stored, of every line whose order-level columns
--       (copied from orders: customer_id after identity merges, fx_rate and
--       line_amount_reporting after a late FX rate, the order's flags, time and store)
--       differ from {{ this }}, whatever the delivery date. A line that appears or
--       disappears counts as changed too.
-- A new column derived from another table (orders included) must join the (b) comparison
-- (changed_lines below), or incremental runs keep its stale value on rows no delivery
-- touches. A change of a var the model reads needs --full-refresh.
-- The refs inside the is_incremental() block must be declared for dbt's parser:
-- depends_on: {{ ref('stg_shopify__orders') }}, {{ ref('stg_shopify__order_lines') }}
-- depends_on: {{ ref('stg_tmall__orders') }}, {{ ref('stg_tmall__order_items') }}
-- depends_on: {{ ref('stg_pos__receipt_lines') }}
-- depends_on: {{ ref('stg_generic__orders') }}, {{ ref('stg_generic__order_lines') }}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_date',
        on_schema_change='fail',
        post_hook="{{ delete_incremental_markers('order_line_id') }}",
    )
}}

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

{% if is_incremental() %}

, delivered_orders as (

    -- (a) orders whose header or lines landed in the window
    {{ delivered_order_keys() }}

),

changed_lines as (

    -- (b) lines whose order-level columns (from the orders mart) changed since stored
    {{ changed_rows('final', 'order_line_id', 'order_date', [
        'order_id', 'order_key', 'source', 'channel', 'store_id', 'customer_id',
        'ordered_at', 'is_paid', 'is_cancelled', 'currency', 'reporting_currency',
        'fx_rate', 'line_amount_reporting',
    ]) }}

),

affected_dates as (

    {{ dates_of_delivered_keys('final', 'delivered_orders', ['source', 'order_key'], 'order_date') }}
    union
    select stored_date as affected_date from changed_lines
    union
    select fresh_date as affected_date from changed_lines

)

{{ rows_of_affected_dates('final', 'affected_dates', 'order_date') }}

{% else %}

select * from final

{% endif %}
