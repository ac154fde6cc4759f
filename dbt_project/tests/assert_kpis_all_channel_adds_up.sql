-- kpis_monthly: the 'all' row of a month is the sum of its online and store rows for the
-- additive figures (orders, revenue, new customers), holds every mapped channel's spend,
-- and counts each customer once (between the larger channel and the sum of both).
-- Returns the months that break it.

with

kpis as (

    select * from {{ ref('kpis_monthly') }}

),

channels as (

    select
        month,
        sum(orders) as orders,
        sum(net_revenue) as net_revenue,
        sum(new_customers) as new_customers,
        sum(campaign_spend) as campaign_spend,
        sum(customers) as customers_sum,
        max(customers) as customers_max
    from kpis
    where channel in ('online', 'store')
    group by month

)

select
    kpis.month,
    kpis.orders,
    channels.orders as channel_orders,
    kpis.net_revenue,
    channels.net_revenue as channel_net_revenue,
    kpis.new_customers,
    channels.new_customers as channel_new_customers,
    kpis.customers,
    channels.customers_sum,
    channels.customers_max
from kpis
inner join channels
    on kpis.month = channels.month
where kpis.channel = 'all'
    and (
        kpis.orders <> channels.orders
        or kpis.net_revenue <> channels.net_revenue
        or kpis.new_customers <> channels.new_customers
        or kpis.campaign_spend < channels.campaign_spend
        or kpis.customers > channels.customers_sum
        or kpis.customers < channels.customers_max
    )
