-- One row per catalogue product (SKU), with list price and unit cost in the catalogue's
-- currency and in the reporting currency (latest available rate: the merchant's, else the
-- ECB reference rate), and the unit margin.

{%- set reporting_currency = reporting_currency() %}

with

products as (

    select * from {{ ref('stg_catalog__products') }}

),

ecb_latest_day as (

    select max(rate_date) as rate_date from {{ ref('stg_ecb__reference_rates') }}

),

ecb_cross_rates as (

    -- the ECB's latest day only: units of the reporting currency per unit of each currency
    select
        base.currency as from_currency,
        base.rate_date,
        {{ round_quotient(
            'cast(target.units_per_eur as decimal(38, 6)) * 1000000',
            'cast(base.units_per_eur as decimal(38, 6)) * 1000000',
            6,
        ) }}
            as rate
    from {{ ref('stg_ecb__reference_rates') }} as base
    inner join {{ ref('stg_ecb__reference_rates') }} as target
        on base.rate_date = target.rate_date
        and target.currency = '{{ reporting_currency }}'
    inner join ecb_latest_day
        on base.rate_date = ecb_latest_day.rate_date

),

latest_rates as (

    select
        from_currency,
        rate
    from (
        select
            from_currency,
            rate,
            row_number() over (
                partition by from_currency order by precedence asc, rate_date desc
            ) as rate_rank
        from (
            select
                from_currency,
                rate_date,
                rate,
                1 as precedence
            from {{ ref('stg_finance__fx_rates') }}
            where to_currency = '{{ reporting_currency }}'
            union all
            select
                from_currency,
                rate_date,
                rate,
                2 as precedence
            from ecb_cross_rates
        ) as candidates
    ) as ranked
    where rate_rank = 1

),

with_rate as (

    select
        products.*,
        case
            when products.currency = '{{ reporting_currency }}' then cast(1 as decimal(18, 6))
            else latest_rates.rate
        end as fx_rate
    from products
    left join latest_rates
        on products.currency = latest_rates.from_currency

),

final as (

    select
        sku,
        product_name,
        category,
        brand,

        currency,
        list_price,
        unit_cost,
        list_price - unit_cost as unit_margin,
        case
            when list_price > 0
                then cast(round((list_price - unit_cost) / list_price, 4) as decimal(18, 4))
        end as margin_rate,

        '{{ reporting_currency }}' as reporting_currency,
        fx_rate,
        cast(round(list_price * fx_rate, 2) as decimal(18, 2)) as list_price_reporting,
        cast(round(unit_cost * fx_rate, 2) as decimal(18, 2)) as unit_cost_reporting

    from with_rate

)

select * from final
