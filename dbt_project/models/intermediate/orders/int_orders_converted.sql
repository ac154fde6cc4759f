-- One row per order (int_orders_unioned) with its amounts also in the reporting currency,
-- at the rate of the order's local business day: the latest stg_finance__fx_rates rate
-- on or before order_date (FX feeds skip weekends and holidays); rate 1 when the order is
-- already in the reporting currency. Each amount is rounded to 2 decimals per order.

{%- set reporting_currency = var('reporting_currency') %}
{%- set amounts = ['gross_amount', 'discount_amount', 'refunded_amount', 'net_amount'] %}

with

orders as (

    select * from {{ ref('int_orders_unioned') }}

),

fx_rates as (

    select * from {{ ref('stg_finance__fx_rates') }}
    where to_currency = '{{ reporting_currency }}'

),

order_days as (

    select distinct currency, order_date
    from orders
    where currency <> '{{ reporting_currency }}'

),

day_rates as (

    select
        order_days.currency,
        order_days.order_date,
        fx_rates.rate,
        row_number() over (
            partition by order_days.currency, order_days.order_date
            order by fx_rates.rate_date desc
        ) as rate_rank
    from order_days
    inner join fx_rates
        on order_days.currency = fx_rates.from_currency
        and fx_rates.rate_date <= order_days.order_date

),

with_rate as (

    select
        orders.*,
        case
            when orders.currency = '{{ reporting_currency }}' then cast(1 as decimal(18, 6))
            else day_rates.rate
        end as fx_rate
    from orders
    left join day_rates
        on orders.currency = day_rates.currency
        and orders.order_date = day_rates.order_date
        and day_rates.rate_rank = 1

),

final as (

    select
        *,
        '{{ reporting_currency }}' as reporting_currency,
        {%- for amount in amounts %}
        cast(round({{ amount }} * fx_rate, 2) as decimal(18, 2)) as {{ amount }}_reporting
        {{- "," if not loop.last }}
        {%- endfor %}
    from with_rate

)

select * from final
