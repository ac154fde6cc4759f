-- One row per order of a mapped export (order_key = '<export>:<order id>'). Which fields
-- come from where, and the status and amount rules, are in the YAML description; here,
-- why: a line-level export (UCI) repeats its invoice's fields on every line or fills them
-- on the first line only, so max() over the lines takes the one value given.
-- A table, not a view: the windows over the append-only raw table are computed once per
-- run instead of once per test and per downstream model.

{{ config(materialized='table') }}

{%- set revenue_statuses = ['paid', 'partially_refunded', 'refunded'] %}

with

order_rows as (

    select *
    from (
        select
            *,
            {{ dbt.concat(['export_name', "':'", clean_text('order_id')]) }} as order_key,
            row_number() over (
                partition by export_name, {{ clean_text('order_id') }}
                order by {{ latest_delivery_first() }}
            ) as row_rank
        from {{ source('generic', 'orders') }}
        where record_type = 'order'
            and {{ clean_text('order_id') }} is not null
    ) as ranked
    where row_rank = 1

),

line_orders as (

    select
        order_key,
        max(export_name) as export_name,
        max(order_id) as order_id,
        max(channel) as channel,
        min(ordered_at) as ordered_at,
        max(status) as status,
        max(currency) as currency,
        max(total_amount) as total_amount,
        max(refunded_amount) as refunded_amount,
        max(discount_code) as discount_code,
        max(payment_method) as payment_method,
        max(store_id) as store_id,
        max(customer_ref) as customer_ref,
        max(email) as email,
        max(phone) as phone,
        max(customer_name) as customer_name,
        max(city) as city,
        max(region) as region,
        max(country) as country,
        max(zip) as zip,
        sum(case when line_amount > 0 then line_amount else 0 end) as sold_amount,
        sum(case when line_amount < 0 then -line_amount else 0 end) as returned_amount,
        sum(shipping_amount) as shipping_amount,
        max(_delivery_date) as _delivery_date
    from {{ ref('stg_generic__order_lines') }}
    group by order_key

),

joined as (

    select
        coalesce(order_rows.order_key, line_orders.order_key) as order_key,
        coalesce(order_rows.export_name, line_orders.export_name) as export_name,
        coalesce({{ clean_text('order_rows.order_id') }}, line_orders.order_id) as order_id,
        coalesce(order_rows.channel, line_orders.channel) as channel,
        coalesce(order_rows.ordered_at, line_orders.ordered_at) as ordered_at,
        coalesce(order_rows.status, line_orders.status) as delivered_status,
        coalesce({{ clean_currency('order_rows.currency') }}, line_orders.currency) as currency,
        coalesce(
            order_rows.total_amount,
            line_orders.total_amount,
            coalesce(line_orders.sold_amount, 0)
            + coalesce(order_rows.shipping_amount, line_orders.shipping_amount, 0)
        ) as gross_amount,
        coalesce(order_rows.refunded_amount, line_orders.refunded_amount) as delivered_refund,
        coalesce(line_orders.returned_amount, 0) as returned_amount,
        order_rows.discount_amount,
        coalesce({{ clean_text('order_rows.discount_code') }}, line_orders.discount_code)
            as discount_code,
        coalesce({{ clean_text('order_rows.payment_method') }}, line_orders.payment_method)
            as payment_method,
        coalesce({{ clean_text('order_rows.store_id') }}, line_orders.store_id) as store_id,
        coalesce({{ clean_text('order_rows.customer_ref') }}, line_orders.customer_ref)
            as customer_ref,
        coalesce({{ clean_text('order_rows.email') }}, line_orders.email) as email,
        coalesce({{ clean_excel_text('order_rows.phone') }}, line_orders.phone) as phone,
        coalesce({{ clean_text('order_rows.customer_name') }}, line_orders.customer_name)
            as customer_name,
        coalesce({{ clean_text('order_rows.city') }}, line_orders.city) as city,
        coalesce({{ clean_text('order_rows.region') }}, line_orders.region) as region,
        coalesce({{ clean_text('order_rows.country') }}, line_orders.country) as country,
        coalesce({{ clean_excel_text('order_rows.zip') }}, line_orders.zip) as zip,
        case
            when order_rows._delivery_date is null then line_orders._delivery_date
            when line_orders._delivery_date is null then order_rows._delivery_date
            when order_rows._delivery_date > line_orders._delivery_date
                then order_rows._delivery_date
            else line_orders._delivery_date
        end as _delivery_date
    from order_rows
    full outer join line_orders
        on order_rows.order_key = line_orders.order_key

),

refunds as (

    select
        *,
        -- the export's own refund, else its return lines, else all of it when the export
        -- says refunded without an amount
        case
            when delivered_refund is not null then delivered_refund
            when returned_amount > 0 then returned_amount
            when delivered_status = 'refunded' then gross_amount
            else 0
        end as refunded_amount
    from joined

),

final as (

    select
        order_key,
        export_name,
        order_id,
        channel,
        store_id,
        ordered_at,
        currency,
        gross_amount,
        discount_amount,
        refunded_amount,
        status,
        status in ('{{ revenue_statuses | join("', '") }}') as is_paid,  -- noqa: LT05
        status = 'cancelled' as is_cancelled,
        case
            when status in ('{{ revenue_statuses | join("', '") }}')  -- noqa: LT05
                then gross_amount - refunded_amount
            else 0
        end as net_amount,
        discount_code,
        payment_method,
        customer_ref,
        email,
        phone,
        customer_name,
        city,
        region,
        country,
        zip,
        _delivery_date
    from (
        select
            *,
            case
                when delivered_status in ('pending', 'cancelled') then delivered_status
                when refunded_amount > 0 and refunded_amount >= gross_amount then 'refunded'
                when refunded_amount > 0 then 'partially_refunded'
                else coalesce(delivered_status, 'paid')
            end as status
        from refunds
    ) as with_status
    -- lines whose order file has not arrived yet carry no order time: they wait for it
    where ordered_at is not null

)

select * from final
