{#- One row per month (from the first paid order's month to the run date's month) and
    channel (online, store, all): customer KPIs. Definitions in _kpis__models.yml. Every
    ratio keeps its numerator and denominator as columns, and is an unrounded double. -#}

{%- set as_of = as_of_date() %}
{%- set cac_channels = var('cac_channel_by_marketing_channel') %}

with

run_date as (

    select
        {{ as_of }} as as_of_date,
        cast({{ dbt.date_trunc('month', as_of) }} as date) as as_of_month

),

-- the paid orders of each month, channel and customer (a base kept by key, read whole:
-- about half as many rows as paid orders)
customer_months_paid as (

    select
        month,
        channel,
        customer_id,
        paid_orders,
        net_revenue
    from {{ ref('int_customer_months_summarised') }}

),

channels as (

    select 'online' as channel
    union all
    select 'store' as channel
    union all
    select 'all' as channel

),

month_offsets as (

    select generated_number - 1 as month_offset
    from ({{ dbt.generate_series(1200) }}) as series

),

months as (

    select
        cast(
            {{ dbt.dateadd('month', 'month_offsets.month_offset', 'bounds.first_month') }} as date
        ) as month
    from (select min(month) as first_month from customer_months_paid) as bounds
    cross join month_offsets
    cross join run_date
    where month_offsets.month_offset
        <= {{ dbt.datediff('bounds.first_month', 'run_date.as_of_month', 'month') }}

),

grid as (

    select
        months.month,
        channels.channel
    from months
    cross join channels

),

-- every order counts in its own channel and in 'all'
{%- set order_sums %}
        cast(sum(paid_orders) as {{ dbt.type_bigint() }}) as orders,
        cast(
            sum(case when customer_id is not null then paid_orders else 0 end)
            as {{ dbt.type_bigint() }}
        ) as identified_orders,
        sum(net_revenue) as net_revenue,
        sum(case when customer_id is not null then net_revenue end)
            as identified_net_revenue
{%- endset %}
order_figures as (

    select
        month,
        channel,
        {{ order_sums }}
    from customer_months_paid
    group by month, channel
    union all
    select
        month,
        'all' as channel,
        {{ order_sums }}
    from customer_months_paid
    group by month

),

-- the customers of each month and channel, counted from the flags of the base kept by
-- customer: new (first paid order ever in the month; in the channel, or any for 'all'),
-- repeat (first paid order in an earlier month), retained (bought in the same channel
-- the month before) and new buyers of the channel (their first month in it)
customer_figures as (

    select
        month,
        channel,
        count(*) as customers,
        count(case when is_new_customer then 1 end) as new_customers,
        count(case when is_repeat_customer then 1 end) as repeat_customers,
        count(case when is_retained then 1 end) as retained_customers,
        count(case when is_first_in_channel then 1 end) as new_buyers
    from {{ ref('int_customer_months_classified') }}
    group by month, channel

),

spend as (

    {%- set mapped = cac_channels.items() | list %}
    select
        cast({{ dbt.date_trunc('month', 'spend_date') }} as date) as month,
        case marketing_channel
            {%- for marketing_channel, kpi_channel in mapped %}
            when '{{ marketing_channel }}' then '{{ kpi_channel }}'
            {%- endfor %}
        end as channel,
        spend_reporting
    from ({{ campaign_spend_reporting() }}) as spend_rows

),

spend_figures as (

    select
        month,
        channel,
        sum(spend_reporting) as campaign_spend
    from spend
    where channel is not null
    group by month, channel
    union all
    select
        month,
        'all' as channel,
        sum(spend_reporting) as campaign_spend
    from spend
    group by month

),

service_figures as (

    select
        cast({{ dbt.date_trunc('month', 'interactions.occurred_date') }} as date) as month,
        'all' as channel,
        count(interactions.nps) as nps_responses,
        sum(case when interactions.nps >= 9 then 1 else 0 end) as nps_promoters,
        sum(case when interactions.nps <= 6 then 1 else 0 end) as nps_detractors,
        count(interactions.csat) as csat_responses,
        sum(case when interactions.csat >= 4 then 1 else 0 end) as csat_satisfied
    from {{ ref('interactions') }} as interactions
    cross join run_date
    where interactions.source = 'service_interactions'
        and interactions.occurred_date <= run_date.as_of_date
    group by cast({{ dbt.date_trunc('month', 'interactions.occurred_date') }} as date)

),

assembled as (

    select
        grid.month,
        grid.channel,
        coalesce(customer_figures.customers, 0) as customers,
        coalesce(customer_figures.new_customers, 0) as new_customers,
        coalesce(customer_figures.repeat_customers, 0) as repeat_customers,
        coalesce(order_figures.orders, 0) as orders,
        coalesce(order_figures.identified_orders, 0) as identified_orders,
        coalesce(order_figures.net_revenue, 0) as net_revenue,
        coalesce(
            lag(customer_figures.customers) over (partition by grid.channel order by grid.month), 0
        ) as previous_month_customers,
        coalesce(customer_figures.retained_customers, 0) as retained_customers,
        sum(coalesce(order_figures.identified_net_revenue, 0)) over (
            partition by grid.channel order by grid.month
            rows between unbounded preceding and current row
        ) as revenue_to_date,
        cast(sum(coalesce(customer_figures.new_buyers, 0)) over (
            partition by grid.channel order by grid.month
            rows between unbounded preceding and current row
        ) as {{ dbt.type_bigint() }}) as buyers_to_date,
        coalesce(spend_figures.campaign_spend, 0) as campaign_spend,
        case when grid.channel = 'all' then coalesce(service_figures.nps_responses, 0) end
            as nps_responses,
        service_figures.nps_promoters,
        service_figures.nps_detractors,
        case when grid.channel = 'all' then coalesce(service_figures.csat_responses, 0) end
            as csat_responses,
        service_figures.csat_satisfied
    from grid
    left join order_figures
        on grid.month = order_figures.month and grid.channel = order_figures.channel
    left join customer_figures
        on grid.month = customer_figures.month and grid.channel = customer_figures.channel
    left join spend_figures
        on grid.month = spend_figures.month and grid.channel = spend_figures.channel
    left join service_figures
        on grid.month = service_figures.month and grid.channel = service_figures.channel

),

final as (

    select
        month,
        channel,
        customers,
        new_customers,
        repeat_customers,
        orders,
        identified_orders,
        net_revenue,
        previous_month_customers,
        retained_customers,
        case
            when previous_month_customers > 0
                then cast(retained_customers as {{ type_double() }}) / previous_month_customers
        end as retention_rate,
        case
            when previous_month_customers > 0
                then 1 - cast(retained_customers as {{ type_double() }}) / previous_month_customers
        end as churn_rate,
        case
            when customers > 0
                then cast(repeat_customers as {{ type_double() }}) / customers
        end as repeat_purchase_rate,
        case
            when orders > 0 then cast(net_revenue as {{ type_double() }}) / orders
        end as average_order_value,
        case
            when customers > 0 then cast(identified_orders as {{ type_double() }}) / customers
        end as purchase_frequency,
        revenue_to_date,
        buyers_to_date,
        case
            when buyers_to_date > 0
                then cast(revenue_to_date as {{ type_double() }}) / buyers_to_date
        end as average_historical_clv,
        campaign_spend,
        case
            when new_customers > 0 then cast(campaign_spend as {{ type_double() }}) / new_customers
        end as cac,
        nps_responses,
        case
            when nps_responses > 0
                then cast(100 * (nps_promoters - nps_detractors) as {{ type_double() }})
                    / nps_responses
        end as nps,
        csat_responses,
        case
            when csat_responses > 0
                then cast(csat_satisfied as {{ type_double() }}) / csat_responses
        end as csat
    from assembled

)

select * from final
