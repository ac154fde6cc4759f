-- One row per physical store from the store reference list, with its POS activity
-- (receipts, first and last trading day).

with

stores as (

    select * from {{ ref('stg_catalog__stores') }}

),

receipts as (

    select
        store_id,
        count(*) as receipt_count,
        min(order_date) as first_receipt_date,
        max(order_date) as last_receipt_date
    from {{ ref('int_orders_unioned') }}
    where source = 'pos_transactions'
        and store_id is not null
    group by store_id

),

final as (

    select
        stores.store_id,
        stores.store_name,
        stores.city,
        stores.region,
        coalesce(receipts.receipt_count, 0) as receipt_count,
        receipts.first_receipt_date,
        receipts.last_receipt_date
    from stores
    left join receipts
        on stores.store_id = receipts.store_id

)

select * from final
