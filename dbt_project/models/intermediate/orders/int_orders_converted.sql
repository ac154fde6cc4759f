-- One row per order (int_orders_unioned) with its amounts also in the reporting currency,
-- at the rate int_fx_rates_resolved gives the order's currency and local day.

{%- set reporting_currency = reporting_currency() %}
{%- set amounts = ['gross_amount', 'discount_amount', 'refunded_amount', 'net_amount'] %}

with

orders as (

    select * from {{ ref('int_orders_unioned') }}

),

day_rates as (

    select * from {{ ref('int_fx_rates_resolved') }}

),

with_rate as (

    select
        orders.*,
        case
            when orders.currency = '{{ reporting_currency }}' then cast(1 as decimal(18, 6))
            else day_rates.rate
        end as fx_rate,
        case
            when orders.currency = '{{ reporting_currency }}' then 'same_currency'
            else day_rates.rate_source
        end as fx_rate_source,
        case
            when orders.currency = '{{ reporting_currency }}' then orders.order_date
            else day_rates.rate_date
        end as fx_rate_date
    from orders
    left join day_rates
        on orders.currency = day_rates.currency
        and orders.order_date = day_rates.rate_day

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
