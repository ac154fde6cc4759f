-- One row per currency and day a conversion asks for (order days, campaign spend days) in
-- a currency other than the reporting one, with the rate that converts it. Precedence and
-- sources are in the YAML; here, why: rates skip weekends and holidays, so a day takes the
-- latest rate on or before it, and rate_date says which day that was (a stale rate shows,
-- it is not hidden).

{%- set reporting_currency = reporting_currency() %}

with

asked_days as (

    select
        currency,
        order_date as rate_day
    from {{ ref('int_orders_unioned') }}
    where currency <> '{{ reporting_currency }}'
    union
    select
        currency,
        spend_date as rate_day
    from {{ ref('stg_marketing__campaign_spend') }}
    where currency <> '{{ reporting_currency }}'

),

merchant_rates as (

    select
        from_currency as currency,
        rate_date,
        rate
    from {{ ref('stg_finance__fx_rates') }}
    where to_currency = '{{ reporting_currency }}'

),

ecb_rates as (

    select * from {{ ref('stg_ecb__reference_rates') }}

),

ecb_first_day as (

    -- The ECB days a conversion can use: from a fortnight before the first day asked (no
    -- holiday gap is longer), or the last ECB day when every day asked is later. Keeps
    -- the as-of join below to the period asked for, not 25 years of rates.
    select
        least(
            {{ dbt.dateadd('day', -14, '(select min(rate_day) from asked_days)') }},
            (select max(rate_date) from ecb_rates)
        ) as first_day

),

ecb_cross_rates as (

    -- units of the reporting currency per unit of the currency, on one ECB day
    select
        base.currency,
        base.rate_date,
        {{ round_quotient(
            'cast(target.units_per_eur as decimal(38, 6)) * 1000000',
            'cast(base.units_per_eur as decimal(38, 6)) * 1000000',
            6,
        ) }}
            as rate
    from ecb_rates as base
    inner join ecb_rates as target
        on base.rate_date = target.rate_date
        and target.currency = '{{ reporting_currency }}'
    cross join ecb_first_day
    where base.rate_date >= ecb_first_day.first_day
        and base.currency in (select asked_days.currency from asked_days)

),

candidate_rates as (

    select
        currency,
        rate_date,
        rate,
        'merchant' as rate_source,
        1 as precedence
    from merchant_rates
    union all
    select
        currency,
        rate_date,
        rate,
        'ecb_reference' as rate_source,
        2 as precedence
    from ecb_cross_rates

),

ranked as (

    select
        asked_days.currency,
        asked_days.rate_day,
        candidate_rates.rate,
        candidate_rates.rate_source,
        candidate_rates.rate_date,
        row_number() over (
            partition by asked_days.currency, asked_days.rate_day
            order by candidate_rates.precedence asc, candidate_rates.rate_date desc
        ) as rate_rank
    from asked_days
    inner join candidate_rates
        on asked_days.currency = candidate_rates.currency
        and asked_days.rate_day >= candidate_rates.rate_date

)

select
    currency,
    rate_day,
    '{{ reporting_currency }}' as reporting_currency,
    rate,
    rate_source,
    rate_date
from ranked
where rate_rank = 1
