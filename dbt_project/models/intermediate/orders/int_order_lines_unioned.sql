-- One row per order line across channels (Shopify line items, Tmall items, POS receipt
-- lines, mapped exports' lines), in the order's own currency (int_orders_unioned.currency).
-- line_amount is what the line sold for after its own discount: Shopify quantity x price -
-- line discount, Tmall quantity x price, POS as delivered. Order-level shipping, taxes and
-- refunds are not spread over lines.
--
-- Kept by key (delete+insert on (source, order_key): all the lines of an order; see
-- int_orders_unioned): the orders with a line written to staging since this model's
-- _loaded_through, and every order of a mapped export.

{#- the staging models kept by key this model reads: (source, key column) of each -#}
{%- set kept_staging = {
    'stg_shopify__order_lines': ('shopify_orders', 'order_name'),
    'stg_tmall__order_items': ('tmall_orders', 'order_id'),
    'stg_pos__receipt_lines': ('pos_transactions', 'receipt_key'),
} %}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source', 'order_key'],
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('line_number') }}",
    )
}}

with

{% if is_incremental() -%}
changed_orders as (

    {{ keys_with_new_staging_rows(kept_staging, 'order_key', ref('stg_generic__order_lines'), 'order_key') }}

),
{%- endif %}

shopify_order_lines as (

    select * from {{ ref('stg_shopify__order_lines') }}
    where {{ is_changed_key('changed_orders', 'order_key', 'shopify_orders', 'order_name') }}

),

tmall_order_items as (

    select * from {{ ref('stg_tmall__order_items') }}
    where {{ is_changed_key('changed_orders', 'order_key', 'tmall_orders', 'order_id') }}

),

pos_receipt_lines as (

    select * from {{ ref('stg_pos__receipt_lines') }}
    where {{ is_changed_key('changed_orders', 'order_key', 'pos_transactions', 'receipt_key') }}

),

generic_order_lines as (

    select * from {{ ref('stg_generic__order_lines') }}
    where {{ is_changed_key('changed_orders', 'order_key', 'generic_orders', 'order_key') }}

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

),

final as (

    select
        unioned.*,
        -- the change feed's watermark (docs/incremental.md)
        {{ staging_loaded_through(kept_staging.keys() | list) }} as _loaded_through
    from unioned

)

{% if is_incremental() %}

{{ rows_of_changed_keys('final', 'changed_orders', ['source', 'order_key'], ['source', 'order_key']) }}

{% else %}

select * from final

{% endif %}
