-- One row per Shopify order. The export has one row per line item and fills the
-- order-level columns (status, totals, billing, refunds) on the order's first row only,
-- so order fields come from that row, never from a sum over rows. A re-delivered order
-- is read from its latest load only.
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

with

keyed as (

    select
        *,
        (
            {{ clean_text('financial_status') }} is not null
            or {{ clean_text('currency') }} is not null
            or total is not null
            or subtotal is not null
            or {{ clean_text('shopify_order_id') }} is not null
        ) as has_order_fields
    -- order_key: the name, qualified by Shopify's order Id when another store used the
    -- name first (macros/staging/shopify_order_keys.sql)
    from ({{ shopify_keyed_rows(
        raw_rows_of_changed_keys(source('shopify', 'orders'), clean_text('order_name'))
        ~ ' as changed'
    ) }}) as source

),

ranked as (

    select
        *,
        row_number() over (
            partition by order_key
            order by
                {{ latest_delivery_first(with_line=false) }},
                -- within that load: the first row that carries the order-level fields
                case when has_order_fields then 0 else 1 end,
                _source_line asc
        ) as row_rank
    from keyed

),

first_rows as (

    select * from ranked
    where row_rank = 1

),

renamed as (

    select
        order_key as order_name,
        {{ clean_text('shopify_order_id') }} as shopify_order_id,

        {{ clean_text('email') }} as email,
        coalesce(
            {{ clean_excel_text('billing_phone') }},
            {{ clean_excel_text('phone') }}
        ) as phone,
        {{ clean_text('billing_name') }} as billing_name,
        {{ clean_text('billing_city') }} as billing_city,
        {{ clean_text('billing_province') }} as billing_province,
        {{ clean_text('billing_country') }} as billing_country,
        {{ clean_excel_text('billing_zip') }} as billing_zip,
        {{ clean_text('shipping_city') }} as shipping_city,
        accepts_marketing,

        {{ clean_code('financial_status') }} as financial_status,
        {{ clean_code('fulfillment_status') }} as fulfillment_status,
        {{ clean_text('payment_method') }} as payment_method,
        {{ clean_code('source_name') }} as source_name,
        {{ clean_text('tags') }} as tags,

        {{ clean_currency('currency') }} as currency,
        subtotal,
        shipping,
        taxes,
        total,
        {{ clean_text('discount_code') }} as discount_code,
        discount_amount,
        refunded_amount,

        created_at,
        paid_at,
        cancelled_at,

        has_order_fields,
        _load_id,
        _source_file,
        _source_line,
        _delivery_date,
        _loaded_at,
        {{ loaded_through(source('shopify', 'orders')) }} as _loaded_through

    from first_rows

)

select * from renamed
