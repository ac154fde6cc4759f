-- One row per POS receipt line, from the latest load that contains the receipt (store_id,
-- receipt_id). Lines with a line_no keep their last row per line_no; item logs without
-- line numbers repeat a row once per unit sold, so those rows are all kept (quantity 1).
-- Kept by key (macros/incremental/change_feed.sql): a night re-ranks only the keys
-- with a raw row loaded since the last build, from all their raw rows, and replaces them.

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='receipt_key',
        on_schema_change='fail',
    )
}}

with

source as (

    select * from {{ source('pos', 'transactions') }}

),

keyed as (

    select
        *,
        {{ clean_text('store_id') }} as store_key,
        {{ clean_text('receipt_id') }} as receipt_no,
        case
            when {{ clean_text('store_id') }} is null then {{ clean_text('receipt_id') }}
            else {{ dbt.concat([clean_text('store_id'), "'/'", clean_text('receipt_id')]) }}
        end as receipt_key
    from source

),

receipts_to_rank as (

    select * from keyed
    {%- if is_incremental() %}
    -- the receipts with a row loaded since the last build (macros/incremental/change_feed.sql)
    where receipt_key in (
        select receipt_key from keyed where {{ after_watermark('_loaded_at') }}
    )
    {%- endif %}

),

rows_of_latest_load as (

    {{ rows_of_latest_load('receipts_to_rank', 'receipt_key') }}

),

last_of_each_line as (

    select *
    from (
        select
            *,
            row_number() over (
                partition by receipt_key, line_no
                order by _source_line desc
            ) as line_rank
        from rows_of_latest_load
    ) as ranked
    -- rows without a line_no are one row per unit sold: all kept
    where line_no is null or line_rank = 1

),

renamed as (

    select
        receipt_key,
        store_key as store_id,
        receipt_no as receipt_id,
        line_no,
        row_number() over (
            partition by receipt_key order by line_no, _source_line
        ) as line_number,

        {{ from_local_timestamp(
            timestamp_from_date_and_time('sale_date', 'sale_time'),
            var('pos_timezone')
        ) }} as sold_at,
        sale_date,
        sale_time,

        {{ clean_text('sku') }} as sku,
        {{ clean_text('item_name') }} as item_name,
        coalesce(quantity, 1) as quantity,
        unit_price,
        discount_amount,
        line_amount,
        '{{ var("source_currencies")["pos_transactions"] }}' as currency,

        {{ clean_text('payment_method') }} as payment_method,
        {{ clean_text('member_card') }} as member_card,
        {{ clean_excel_text('phone') }} as phone,

        _load_id,
        _source_file,
        _source_line,
        _delivery_date,
        _loaded_at,
        {{ loaded_through(source('pos', 'transactions')) }} as _loaded_through

    from last_of_each_line

)

select * from renamed
