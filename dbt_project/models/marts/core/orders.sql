-- One row per order across Shopify, Tmall and the stores' POS receipts, with the customer
-- it resolved to (null when anonymous) and amounts in both the order's currency and the
-- reporting currency.
--
-- Incremental by order_date (delete+insert): an incremental run rewrites every affected
-- order_date with all of that day's orders computed from the current upstream (macros in
-- macros/incremental/incremental_by_date.sql). Affected dates are
--   (a) the order_date, now and as stored, of every order whose header or lines were
--       delivered in the run's window (vars window_start / window_end; unset = every
--       delivery): a new order, a corrected re-delivery (which may move the order to
--       another day: the stored day must lose it), late Tmall items;
--   (b) the order_date, now and as stored, of every order whose columns that come from
--       other tables differ from {{ this }}, whatever its delivery date: customer_id
--       (identity: a later record merges two customers, a blocklist entry splits one),
--       fx_rate, fx_rate_source, fx_rate_date (an FX rate delivered after the orders it
--       converts; the *_reporting amounts follow it), line_count / item_quantity (lines delivered apart from the
--       header). An order that appears or disappears counts as changed too.
-- A new column derived from another table must join the (b) comparison (changed_orders
-- below), or incremental runs keep its stale value on rows no delivery touches. A change
-- of a var the model reads (reporting_currency, reporting_timezone) needs --full-refresh.
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
        post_hook="{{ delete_incremental_markers('order_id') }}",
    )
}}

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
        orders.fx_rate_source,
        orders.fx_rate_date,
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

{% if is_incremental() %}

, delivered_orders as (

    -- (a) orders whose header or lines landed in the window
    {{ delivered_order_keys() }}

),

changed_orders as (

    -- (b) orders whose attributes from other tables changed since they were stored
    {{ changed_rows('final', 'order_id', 'order_date', [
        'customer_id', 'fx_rate', 'fx_rate_source', 'fx_rate_date', 'line_count', 'item_quantity',
    ]) }}

),

affected_dates as (

    {{ dates_of_delivered_keys('final', 'delivered_orders', ['source', 'order_key'], 'order_date') }}
    union
    select stored_date as affected_date from changed_orders
    union
    select fresh_date as affected_date from changed_orders

)

{{ rows_of_affected_dates('final', 'affected_dates', 'order_date') }}

{% else %}

select * from final

{% endif %}
