{#- Campaign spend rows (stg_marketing__campaign_spend) on or before the run date, with
    the amount in the reporting currency at the spend day's rate (int_fx_rates_resolved:
    the merchant's, else the ECB reference rate; 1 in the reporting currency), rounded to 2
    decimals per row, as orders are.
    A select statement for promotion_results and kpis_monthly. -#}
{% macro campaign_spend_reporting() -%}
    {%- set reporting_currency = reporting_currency() %}
    select
        spend.spend_date,
        spend.marketing_channel,
        spend.campaign,
        cast(round(
            spend.spend * case
                when spend.currency = '{{ reporting_currency }}' then 1
                else rates.rate
            end, 2
        ) as decimal(18, 2)) as spend_reporting
    from {{ ref('stg_marketing__campaign_spend') }} as spend
    left join {{ ref('int_fx_rates_resolved') }} as rates
        on spend.currency = rates.currency
        and spend.spend_date = rates.rate_day
    where spend.spend_date <= {{ as_of_date() }}
{%- endmacro %}
