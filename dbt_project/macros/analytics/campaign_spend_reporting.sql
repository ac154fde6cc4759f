{#- Campaign spend rows (stg_marketing__campaign_spend) on or before the run date, with
    the amount in the reporting currency at the latest rate on or before the spend day
    (rate 1 in the reporting currency), rounded to 2 decimals per row, as orders are.
    A select statement for promotion_results and kpis_monthly. -#}
{% macro campaign_spend_reporting() -%}
    {%- set reporting_currency = var('reporting_currency') %}
    select
        spend_date,
        marketing_channel,
        campaign,
        spend_reporting
    from (
        select
            spend.spend_date,
            spend.marketing_channel,
            spend.campaign,
            cast(round(
                spend.spend * case
                    when spend.currency = '{{ reporting_currency }}' then 1
                    else rates.rate
                end, 2
            ) as decimal(18, 2)) as spend_reporting,
            row_number() over (
                partition by spend.spend_date, spend.marketing_channel, spend.campaign
                order by rates.rate_date desc
            ) as rate_rank
        from {{ ref('stg_marketing__campaign_spend') }} as spend
        left join {{ ref('stg_finance__fx_rates') }} as rates
            on spend.currency <> '{{ reporting_currency }}'
            and rates.from_currency = spend.currency
            and rates.to_currency = '{{ reporting_currency }}'
            and rates.rate_date <= spend.spend_date
        where spend.spend_date <= {{ as_of_date() }}
    ) as ranked
    where rate_rank = 1
{%- endmacro %}
