-- One row per Shopify order line item, from the latest load that contains the order.
-- line_number is the line's position within the order in that file. A row repeated
-- within one order of one file (same line values; text compared trimmed and case-folded)
-- is a repeated delivery, not a second line: Shopify merges identical variants into one
-- line with a quantity, so the repeat is dropped.
-- A table, not a view: the windows over the append-only raw table are computed once per
-- run instead of once per test and per downstream model.

{{ config(materialized='table') }}

with

keyed as (

    -- order_key: the name, qualified by Shopify's order Id when another store used the
    -- name first (macros/staging/shopify_order_keys.sql)
    {{ shopify_keyed_rows(source('raw', 'shopify_orders')) }}

),

rows_of_latest_load as (

    select *
    from (
        select
            *,
            dense_rank() over (
                partition by order_key order by {{ latest_delivery_first(with_line=false) }}
            ) as load_rank
        from keyed
    ) as ranked
    where load_rank = 1

),

first_of_repeats as (

    select *
    from (
        select
            *,
            row_number() over (
                partition by
                    order_key,
                    lower(trim(lineitem_sku)),
                    lower(trim(lineitem_name)),
                    lineitem_quantity,
                    lineitem_price,
                    lineitem_discount
                order by _source_line
            ) as repeat_rank
        from rows_of_latest_load
    ) as ranked
    where repeat_rank = 1

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
        _loaded_at

    from first_of_repeats

)

select * from renamed
