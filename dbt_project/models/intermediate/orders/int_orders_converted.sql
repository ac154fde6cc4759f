-- One row per order (int_orders_unioned) with its amounts also in the reporting currency,
-- at the rate int_fx_rates_resolved gives the order's currency and local day.
--
-- Kept by key (delete+insert on (source, order_key)): a night rewrites the orders
-- int_orders_unioned wrote after this model's _loaded_through, the stored orders whose
-- rate, rate source or rate date int_fx_rates_resolved now gives differently (a rate
-- delivered after the orders it converts), and every mapped-export order this model holds
-- (one that disappeared gets a tombstone). A change of the reporting currency changes the
-- model's fingerprint and rebuilds it.

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source', 'order_key'],
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('channel') }}",
    )
}}

{%- set reporting_currency = reporting_currency() %}
{%- set amounts = ['gross_amount', 'discount_amount', 'refunded_amount', 'net_amount'] %}

with

{% if is_incremental() -%}
changed_orders as (

    select source, order_key
    from {{ ref('int_orders_unioned') }}
    where {{ after_watermark('_loaded_through') }}
    union
    {{ orders_with_changed_rates() }}
    union
    select source, order_key from {{ this }} where source = 'generic_orders'

),
{%- endif %}

orders as (

    select unioned.*
    from {{ ref('int_orders_unioned') }} as unioned
    {%- if is_incremental() %}
    where exists (
        select 1 from changed_orders as c
        where c.source = unioned.source and c.order_key = unioned.order_key
    )
    {%- endif %}

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
        '{{ reporting_currency }}' as reporting_currency,  -- noqa: disable=LT02
        {%- for amount in amounts %}
        cast(round({{ amount }} * fx_rate, 2) as decimal(18, 2)) as {{ amount }}_reporting
        {{- "," if not loop.last }}
        {%- endfor %}  -- noqa: enable=LT02
    from with_rate

)

select * from final
