-- Every order in a currency converts into the reporting currency. An order neither the
-- merchant's fx_rates nor the bundled ECB reference rates can convert stops the build:
-- one row per such currency, with the orders, their days and the way out.

select
    currency,
    count(*) as orders,
    min(order_date) as first_order_date,
    max(order_date) as last_order_date,
    'deliver fx_rates with ' || currency || ' -> ' || min(reporting_currency)
    || ' rates for these days (pipelines/contracts/fx_rates.yml): the ECB reference rates'
    || ' do not cover them' as fix
from {{ ref('int_orders_converted') }}
where currency is not null
    and fx_rate is null
group by currency
