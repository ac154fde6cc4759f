{#- One row per customer of `customers` (prospects included): value tier, lifecycle stage,
    RFM segment, and the behaviour classes of int_customers_classified, all as of the run
    date (macro as_of_date). Thresholds are the analytics vars of dbt_project.yml. -#}

{%- set as_of = as_of_date() %}
{%- set metric = var('value_tier_metric') %}
{%- if metric not in ['revenue', 'margin'] %}
    {{ exceptions.raise_compiler_error("var value_tier_metric must be revenue or margin, not " ~ metric) }}
{%- endif %}

with

run_date as (

    select {{ as_of }} as as_of_date

),

customers as (

    select customer_id from {{ ref('customers') }}

),

purchases as (

    select * from {{ ref('int_customer_purchases_summarised') }}

),

rfm as (

    select
        customer_id,
        rfm_segment
    from {{ ref('customer_rfm') }}

),

-- the preset's rule for non-buyers (null score bounds), e.g. Shopify's Prospects
non_buyer_rule as (

    select segment
    from (
        select
            segment,
            row_number() over (order by priority) as rule_rank
        from {{ ref('rfm_segment_rules') }}
        where preset = '{{ var("rfm_preset") }}'
            and r_min is null
            and fm_min is null
    ) as non_buyer_rules
    where rule_rank = 1

),

classified as (

    select * from {{ ref('int_customers_classified') }}

),

tier_values as (

    select
        customer_id,
        {%- if metric == 'margin' %}
        historical_margin as tier_value
        {%- else %}
        net_revenue as tier_value
        {%- endif %}
    from purchases

),

-- buyers by value desc (ties by customer_id): the share of the total held by the buyers
-- strictly before each one decides the tier
cumulated as (

    select
        customer_id,
        tier_value,
        coalesce(
            sum(tier_value) over (
                order by tier_value desc, customer_id asc
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as value_before,
        sum(tier_value) over () as value_total
    from tier_values

),

tiers as (

    select
        customer_id,
        tier_value,
        value_before,
        value_total,
        case
            when value_total > 0
                then cast(value_before as {{ type_double() }})
                    / cast(value_total as {{ type_double() }})
        end as value_share_before
    from cumulated

),

figures as (

    select
        customers.customer_id,
        run_date.as_of_date,
        purchases.customer_id is not null as is_buyer,
        coalesce(purchases.paid_orders, 0) as paid_orders,
        purchases.first_purchase_date as first_order_date,
        purchases.last_purchase_date as last_order_date,
        {{ dbt.datediff('purchases.first_purchase_date', 'run_date.as_of_date', 'day') }}
            as days_since_first_order,
        {{ dbt.datediff('purchases.last_purchase_date', 'run_date.as_of_date', 'day') }}
            as days_since_last_order,
        purchases.net_revenue,
        purchases.historical_margin as margin,
        tiers.tier_value,
        tiers.value_before,
        tiers.value_total,
        tiers.value_share_before,
        rfm.rfm_segment
    from customers
    cross join run_date
    left join purchases
        on customers.customer_id = purchases.customer_id
    left join tiers
        on customers.customer_id = tiers.customer_id
    left join rfm
        on customers.customer_id = rfm.customer_id

),

final as (

    select
        figures.customer_id,
        figures.as_of_date,
        figures.is_buyer,
        figures.paid_orders,
        figures.first_order_date,
        figures.last_order_date,
        figures.days_since_first_order,
        figures.days_since_last_order,
        figures.days_since_first_order as tenure_days,
        figures.paid_orders >= 2 as is_repeat_buyer,
        figures.net_revenue,
        figures.margin,

        '{{ metric }}' as value_tier_metric,
        figures.tier_value,
        figures.value_share_before,
        -- exact decimals: share < x is written value_before < x * value_total
        case
            when not figures.is_buyer then null
            when figures.value_before < {{ var('value_tier_high_share') }} * figures.value_total
                then 'high'
            when figures.value_before < {{ var('value_tier_mid_share') }} * figures.value_total
                then 'mid'
            else 'low'
        end as value_tier,

        case
            when not figures.is_buyer then 'prospect'
            when figures.days_since_first_order <= {{ var('lifecycle_new_days') }} then 'new'
            when figures.days_since_last_order <= {{ var('lifecycle_active_days') }} then 'active'
            when figures.days_since_last_order <= {{ var('lifecycle_churn_days') }} then 'at_risk'
            else 'churned'
        end as lifecycle_stage,

        coalesce(figures.rfm_segment, non_buyer_rule.segment) as rfm_segment,

        classified.behaviour_evaluated,
        classified.purchased_units,
        classified.cheap_unit_share,
        classified.is_price_sensitive,
        classified.discounted_order_share,
        classified.is_promotion_driven,
        classified.top_brand,
        classified.top_brand_unit_share,
        classified.is_brand_loyal,
        classified.online_order_share,
        classified.store_order_share,
        classified.channel_preference,
        classified.social_events_recent,
        classified.is_socially_engaged

    from figures
    left join classified
        on figures.customer_id = classified.customer_id
    left join non_buyer_rule
        on not figures.is_buyer

)

select * from final
