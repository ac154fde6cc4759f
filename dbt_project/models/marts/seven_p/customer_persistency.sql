{#- Persistency: one row per run date (macro as_of_date) summarising loyalty: repeat
    purchase rate, tenure, purchase intervals, loyalty over the last 12 months
    (vars loyalty_window_days, loyalty_min_orders) and the lifecycle mix of buyers. -#}

{%- set as_of = as_of_date() %}

with

run_date as (

    select {{ as_of }} as as_of_date

),

segments as (

    select * from {{ ref('customer_segments') }}

),

window_orders as (

    select
        orders.customer_id,
        count(*) as paid_orders
    from {{ ref('orders') }} as orders
    cross join run_date
    where orders.is_paid
        and orders.customer_id is not null
        and {{ in_days_ending_on(
            'orders.order_date', var('loyalty_window_days'), 'run_date.as_of_date'
        ) }}
    group by orders.customer_id

),

figures as (

    select
        count(*) as customers,
        cast(
            sum(case when segments.is_buyer then 1 else 0 end) as {{ dbt.type_bigint() }}
        ) as buyers,
        cast(
            sum(case when segments.is_repeat_buyer then 1 else 0 end) as {{ dbt.type_bigint() }}
        ) as repeat_buyers,
        sum(segments.paid_orders) as paid_orders,
        avg(cast(segments.tenure_days as {{ type_double() }})) as average_tenure_days,
        avg(
            case
                when segments.paid_orders >= 2
                    then cast(
                            {{ dbt.datediff(
                                'segments.first_order_date', 'segments.last_order_date', 'day'
                            ) }}
                            as {{ type_double() }}
                        ) / (segments.paid_orders - 1)
            end
        ) as average_days_between_orders,
        cast(
            sum(case when window_orders.paid_orders >= 1 then 1 else 0 end)
            as {{ dbt.type_bigint() }}
        ) as buyers_last_12m,
        cast(sum(
            case when window_orders.paid_orders >= {{ var('loyalty_min_orders') }} then 1 else 0 end
        ) as {{ dbt.type_bigint() }}) as loyal_customers,  -- noqa: disable=LT02
        {%- for stage in ['new', 'active', 'at_risk', 'churned'] %}
        cast(
            sum(case when segments.lifecycle_stage = '{{ stage }}' then 1 else 0 end)
            as {{ dbt.type_bigint() }}
        ) as {{ stage }}_customers{{ "," if not loop.last }}
        {%- endfor %}  -- noqa: enable=LT02
    from segments
    left join window_orders
        on segments.customer_id = window_orders.customer_id

),

final as (

    select
        run_date.as_of_date,
        figures.customers,
        figures.buyers,
        figures.repeat_buyers,
        case
            when figures.buyers > 0
                then cast(figures.repeat_buyers as {{ type_double() }}) / figures.buyers
        end as repeat_purchase_rate,
        case
            when figures.buyers > 0
                then cast(figures.paid_orders as {{ type_double() }}) / figures.buyers
        end as average_orders_per_buyer,
        figures.average_tenure_days,
        figures.average_days_between_orders,
        figures.buyers_last_12m,
        figures.loyal_customers,
        case
            when figures.buyers_last_12m > 0
                then cast(figures.loyal_customers as {{ type_double() }}) / figures.buyers_last_12m
        end as loyalty_rate,
        figures.new_customers,
        figures.active_customers,
        figures.at_risk_customers,
        figures.churned_customers,
        case
            when figures.buyers > 0
                then cast(figures.churned_customers as {{ type_double() }}) / figures.buyers
        end as churned_share
    from figures
    cross join run_date
    -- no run date before the first paid order: no row rather than a row of nulls
    where run_date.as_of_date is not null

)

select * from final
