{#- Performance: one row per month, channel, source, store and city with paid orders on
    or before the run date: revenue, orders, customers and average order value. city is
    the store's city for store orders and the customer's city for online orders (null
    when the order is anonymous or the customer's city unknown). -#}

{%- set as_of = as_of_date() %}

with

paid_orders as (

    select
        cast({{ dbt.date_trunc('month', 'orders.order_date') }} as date) as month,
        orders.channel,
        orders.source,
        orders.store_id,
        case
            when orders.channel = 'store' then stores.city
            else customers.city
        end as city,
        orders.order_id,
        orders.customer_id,
        orders.item_quantity,
        orders.net_amount_reporting
    from {{ ref('orders') }} as orders
    left join {{ ref('stores') }} as stores
        on orders.store_id = stores.store_id
    left join {{ ref('customers') }} as customers
        on orders.customer_id = customers.customer_id
    where orders.is_paid
        and orders.order_date <= {{ as_of }}

),

final as (

    select
        month,
        channel,
        source,
        store_id,
        city,
        count(*) as orders,
        count(customer_id) as identified_orders,
        count(distinct customer_id) as customers,
        cast(sum(item_quantity) as {{ dbt.type_bigint() }}) as units,
        -- an export without prices (a POS item log) has orders with no amount at all
        count(net_amount_reporting) as priced_orders,
        sum(net_amount_reporting) as revenue,
        cast(sum(net_amount_reporting) as {{ type_double() }}) / count(*) as average_order_value
    from paid_orders
    group by month, channel, source, store_id, city

)

select * from final
