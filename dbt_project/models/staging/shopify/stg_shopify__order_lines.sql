-- One row per Shopify order line item, from the latest load that contains the order.
-- line_number is the line's position within the order in that file; a repeated line is
-- dropped (macros/staging/order_lines.sql).
-- Kept by key (macros/incremental/change_feed.sql): a night re-ranks only the keys
-- with a raw row loaded since the last build, from all their raw rows, and replaces them.

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_name',
        on_schema_change='fail',
    )
}}

{%- set changed_orders = raw_rows_of_changed_keys(
    source('shopify', 'orders'), clean_text('order_name')
) ~ ' as changed' %}

with

keyed as (

    -- order_key: the name, qualified by Shopify's order Id when another store used the
    -- name first (macros/staging/shopify_order_keys.sql)
    {{ shopify_keyed_rows(changed_orders) }}

),

rows_of_latest_load as (

    {{ rows_of_latest_load('keyed', 'order_key') }}

),

first_of_repeats as (

    {{ first_of_repeated_lines('rows_of_latest_load', 'order_key', [
        'lower(trim(lineitem_sku))',
        'lower(trim(lineitem_name))',
        'lineitem_quantity',
        'lineitem_price',
        'lineitem_discount',
    ]) }}

),

renamed as (

    select
        order_key as order_name,
        row_number() over (
            partition by order_key order by _source_line
        ) as line_number,

        {{ clean_text('lineitem_sku') }} as sku,
        {{ clean_text('lineitem_name') }} as product_name,
        {{ clean_text('vendor') }} as vendor,
        lineitem_quantity as quantity,
        lineitem_price as unit_price,
        lineitem_discount as discount_amount,

        created_at,

        _load_id,
        _source_file,
        _source_line,
        _delivery_date,
        _loaded_at,
        {{ loaded_through(source('shopify', 'orders')) }} as _loaded_through

    from first_of_repeats

)

select * from renamed
