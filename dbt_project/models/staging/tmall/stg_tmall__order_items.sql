-- One row per Tmall/Taobao order line (宝贝报表), from the latest load that contains the
-- order; line_number is the row's position within the order in that file. Joins to
-- stg_tmall__orders on the trimmed order id. A repeated line is dropped
-- (macros/staging/order_lines.sql).
-- Kept by key (macros/incremental/change_feed.sql): a night re-ranks only the keys
-- with a raw row loaded since the last build, from all their raw rows, and replaces them.

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_id',
        on_schema_change='fail',
    )
}}

with

source as (

    select *
    from {{ raw_rows_of_changed_keys(
        source('tmall', 'order_items'), clean_text('order_id')
    ) }} as changed

),

keyed as (

    select
        *,
        {{ clean_text('order_id') }} as order_key
    from source

),

rows_of_latest_load as (

    {{ rows_of_latest_load('keyed', 'order_key') }}

),

first_of_repeats as (

    {{ first_of_repeated_lines('rows_of_latest_load', 'order_key', [
        'lower(trim(merchant_sku))',
        'lower(trim(title))',
        'lower(trim(item_attributes))',
        'lower(trim(package_info))',
        'lower(trim(external_code))',
        'unit_price',
        'quantity',
    ]) }}

),

renamed as (

    select
        order_key as order_id,
        row_number() over (
            partition by order_key order by _source_line
        ) as line_number,

        {{ clean_text('merchant_sku') }} as sku,
        {{ clean_text('title') }} as title,
        {{ clean_text('external_code') }} as external_code,
        {{ clean_text('item_attributes') }} as item_attributes,
        {{ clean_text('package_info') }} as package_info,
        {{ clean_text('remark') }} as remark,
        {{ clean_text('line_status') }} as line_status,

        '{{ var("source_currencies")["tmall_order_items"] }}' as currency,
        unit_price,
        quantity,

        _load_id,
        _source_file,
        _source_line,
        _delivery_date,
        _loaded_at,
        {{ loaded_through(source('tmall', 'order_items')) }} as _loaded_through

    from first_of_repeats

)

select * from renamed
