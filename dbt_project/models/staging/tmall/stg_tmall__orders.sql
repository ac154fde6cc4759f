-- One row per Tmall/Taobao order (订单报表), keyed by the trimmed order id (the report
-- writes ids with a trailing space). A re-delivered order keeps its latest row.
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
        source('tmall', 'orders'), clean_text('order_id')
    ) }} as changed

),

ranked as (

    select
        *,
        row_number() over (
            partition by {{ clean_text('order_id') }}
            order by {{ latest_delivery_first() }}
        ) as row_rank
    from source

),

renamed as (

    select
        {{ clean_text('order_id') }} as order_id,

        {{ clean_text('buyer_nick') }} as buyer_nick,
        {{ clean_text('alipay_account') }} as alipay_account,
        {{ clean_text('receiver_name') }} as receiver_name,
        {{ clean_text('receiver_address') }} as receiver_address,
        {{ clean_excel_text('contact_tel') }} as contact_tel,
        {{ clean_excel_text('contact_mobile') }} as contact_mobile,

        {{ clean_text('order_status') }} as order_status,
        {{ clean_text('close_reason') }} as close_reason,
        {{ clean_text('buyer_message') }} as buyer_message,
        {{ clean_text('shop_name') }} as shop_name,
        {{ clean_text('is_mobile_order') }} as is_mobile_order,
        {{ clean_text('item_titles') }} as item_titles,
        item_kinds,
        item_quantity,

        '{{ var("source_currencies")["tmall_orders"] }}' as currency,
        goods_amount,
        postage,
        total_amount,
        paid_amount,
        refund_amount,
        buyer_service_fee,

        created_at,
        paid_at,

        _load_id,
        _source_file,
        _source_line,
        _delivery_date,
        _loaded_at,
        {{ loaded_through(source('tmall', 'orders')) }} as _loaded_through

    from ranked
    where row_rank = 1

)

select * from renamed
