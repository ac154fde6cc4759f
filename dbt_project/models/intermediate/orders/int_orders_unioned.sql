-- One row per order across channels: Shopify orders, Tmall orders and POS receipts, in
-- the order's own currency. net_amount (revenue after refunds) follows fixed rules:
--   Shopify  total - refunded, only when the financial status means money was taken
--   Tmall    paid (买家实际支付金额, already net of refunds), only when paid_at is set
--   POS      sum of the receipt's line amounts (return lines are negative)
--   mapped   exports (generic_orders): by the rules of stg_generic__orders

--
-- Kept by key (delete+insert on (source, order_key); macros/incremental/change_feed.sql): a
-- night rewrites the orders with a staging row written since this model's
-- _loaded_through, and every order of a mapped export (stored or current; one that
-- disappeared gets a tombstone).

{#- the staging models kept by key this model reads: (source, key column) of each -#}
{%- set kept_staging = {
    'stg_shopify__orders': ('shopify_orders', 'order_name'),
    'stg_tmall__orders': ('tmall_orders', 'order_id'),
    'stg_pos__receipt_lines': ('pos_transactions', 'receipt_key'),
} %}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source', 'order_key'],
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('channel') }}",
    )
}}

{%- set shopify_revenue_statuses = ['paid', 'partially_refunded', 'refunded'] %}
{%- set shopify_cancelled_statuses = ['voided', 'expired'] %}
{%- set tmall_closed_statuses = ['交易关闭', 'trade_closed', 'trade_closed_by_taobao'] %}

with

{% if is_incremental() -%}
changed_orders as (

    {{ keys_with_new_staging_rows(kept_staging, 'order_key', ref('stg_generic__orders'), 'order_key') }}

),
{%- endif %}

shopify_orders as (

    select * from {{ ref('stg_shopify__orders') }}
    where {{ is_changed_key('changed_orders', 'order_key', 'shopify_orders', 'order_name') }}

),

tmall_orders as (

    select * from {{ ref('stg_tmall__orders') }}
    where {{ is_changed_key('changed_orders', 'order_key', 'tmall_orders', 'order_id') }}

),

pos_receipt_lines as (

    select * from {{ ref('stg_pos__receipt_lines') }}
    where {{ is_changed_key('changed_orders', 'order_key', 'pos_transactions', 'receipt_key') }}

),

generic_orders as (

    select * from {{ ref('stg_generic__orders') }}
    where {{ is_changed_key('changed_orders', 'order_key', 'generic_orders', 'order_key') }}

),

shopify as (

    select
        order_name as order_key,
        'shopify_orders' as source,
        'online' as channel,
        cast(null as {{ dbt.type_string() }}) as store_id,
        created_at as ordered_at,
        currency,
        total as gross_amount,
        discount_amount,
        refunded_amount,
        case
            when financial_status in ('{{ shopify_revenue_statuses | join("', '") }}')  -- noqa: LT05
                then total - coalesce(refunded_amount, 0)
            else 0
        end as net_amount,
        coalesce(
            financial_status in ('{{ shopify_revenue_statuses | join("', '") }}'), false  -- noqa: LT05
        ) as is_paid,
        cancelled_at is not null as is_cancelled,
        case
            when financial_status in ('{{ shopify_revenue_statuses | join("', '") }}')  -- noqa: LT05
                then financial_status
            when financial_status in ('{{ shopify_cancelled_statuses | join("', '") }}')  -- noqa: LT05
                or cancelled_at is not null
                then 'cancelled'
            -- pending, authorized, partially_paid, unpaid, or no order-level row
            else 'pending'
        end as status,
        payment_method,
        discount_code
    from shopify_orders

),

tmall as (

    select
        order_id as order_key,
        'tmall_orders' as source,
        'online' as channel,
        cast(null as {{ dbt.type_string() }}) as store_id,
        created_at as ordered_at,
        currency,
        total_amount as gross_amount,
        cast(null as decimal(18, 2)) as discount_amount,
        refund_amount as refunded_amount,
        -- 买家实际支付金额 is already net of refunds (paid + refund = total on every
        -- refunded order of the real reports): it is the revenue, not paid - refund
        case
            when paid_at is not null then paid_amount
            else 0
        end as net_amount,
        paid_at is not null as is_paid,
        coalesce(lower(order_status) in ('{{ tmall_closed_statuses | join("', '") }}'), false)  -- noqa: LT05
            as is_cancelled,
        case
            when paid_at is null
                and lower(order_status) in ('{{ tmall_closed_statuses | join("', '") }}')  -- noqa: LT05
                then 'cancelled'
            when paid_at is null then 'pending'
            when coalesce(refund_amount, 0) > 0 and paid_amount = 0 then 'refunded'
            when coalesce(refund_amount, 0) > 0 then 'partially_refunded'
            else 'paid'
        end as status,
        cast(null as {{ dbt.type_string() }}) as payment_method,
        cast(null as {{ dbt.type_string() }}) as discount_code
    from tmall_orders

),

pos_receipts as (

    select
        receipt_key,
        min(store_id) as store_id,
        min(sold_at) as sold_at,
        min(currency) as currency,
        sum(case when line_amount > 0 then line_amount when line_amount is not null then 0 end)
            as sold_amount,
        sum(case when line_amount < 0 then -line_amount when line_amount is not null then 0 end)
            as returned_amount,
        sum(discount_amount) as discount_amount,
        sum(line_amount) as net_amount,
        min(payment_method) as payment_method
    from pos_receipt_lines
    group by receipt_key

),

pos as (

    select
        receipt_key as order_key,
        'pos_transactions' as source,
        'store' as channel,
        store_id,
        sold_at as ordered_at,
        currency,
        sold_amount as gross_amount,
        discount_amount,
        returned_amount as refunded_amount,
        net_amount,
        true as is_paid,
        false as is_cancelled,
        case
            when returned_amount > 0 and sold_amount = 0 then 'refunded'
            when returned_amount > 0 then 'partially_refunded'
            else 'paid'
        end as status,
        payment_method,
        cast(null as {{ dbt.type_string() }}) as discount_code
    from pos_receipts

),

generic as (

    select
        order_key,
        'generic_orders' as source,
        channel,
        store_id,
        ordered_at,
        currency,
        gross_amount,
        discount_amount,
        refunded_amount,
        net_amount,
        is_paid,
        is_cancelled,
        status,
        payment_method,
        discount_code
    from generic_orders

),

unioned as (

    select * from shopify
    union all
    select * from tmall
    union all
    select * from pos
    union all
    select * from generic

),

final as (

    select
        order_key,
        source,
        channel,
        store_id,
        ordered_at,
        {{ to_local_date('ordered_at', var('reporting_timezone')) }} as order_date,
        currency,
        gross_amount,
        discount_amount,
        refunded_amount,
        net_amount,
        is_paid,
        is_cancelled,
        status,
        payment_method,
        discount_code,
        -- the change feed's watermark (docs/incremental.md)
        {{ staging_loaded_through(kept_staging.keys() | list) }} as _loaded_through
    from unioned

)

{% if is_incremental() %}

{{ rows_of_changed_keys('final', 'changed_orders', ['source', 'order_key'], ['source', 'order_key']) }}

{% else %}

select * from final

{% endif %}
