-- One row per order line of a mapped export (generic_orders rows from order_line files),
-- from the latest load that contains the order: a re-delivered order replaces all its
-- lines, as a Shopify one does. Every delivered row is a line (a mapped export that repeats
-- a row means two units; it is not second-guessed). Order-level fields the line carries
-- (line-level exports such as UCI's repeat the invoice's number, date and customer) are
-- kept for stg_generic__orders.
-- A table, not a view: the windows over the append-only raw table are computed once per
-- run instead of once per test and per downstream model.

{{ config(materialized='table') }}

with

source as (

    select * from {{ source('generic', 'orders') }}
    where record_type = 'order_line'

),

keyed as (

    select
        *,
        {{ dbt.concat(['export_name', "':'", clean_text('order_id')]) }} as order_key
    from source
    where {{ clean_text('order_id') }} is not null

),

rows_of_latest_load as (

    {{ rows_of_latest_load('keyed', 'order_key') }}

),

renamed as (

    select
        order_key,
        export_name,
        {{ clean_text('order_id') }} as order_id,
        -- the mapped number orders the lines; the file order breaks ties and fills in
        row_number() over (
            partition by order_key order by line_number, _source_line
        ) as line_number,

        {{ clean_text('product_sku') }} as sku,
        {{ clean_text('product_name') }} as product_name,
        coalesce(quantity, 1) as quantity,
        unit_price,
        line_discount as discount_amount,
        coalesce(
            line_amount,
            coalesce(quantity, 1) * unit_price - coalesce(line_discount, 0)
        ) as line_amount,
        shipping_amount,

        channel,
        ordered_at,
        status,
        {{ clean_currency('currency') }} as currency,
        total_amount,
        refunded_amount,
        {{ clean_text('discount_code') }} as discount_code,
        {{ clean_text('payment_method') }} as payment_method,
        {{ clean_text('store_id') }} as store_id,
        {{ clean_text('customer_ref') }} as customer_ref,
        {{ clean_text('email') }} as email,
        {{ clean_excel_text('phone') }} as phone,
        {{ clean_text('customer_name') }} as customer_name,
        {{ clean_text('city') }} as city,
        {{ clean_text('region') }} as region,
        {{ clean_text('country') }} as country,
        {{ clean_excel_text('zip') }} as zip,

        _load_id,
        _source_file,
        _source_line,
        _delivery_date,
        _loaded_at

    from rows_of_latest_load

)

select * from renamed
