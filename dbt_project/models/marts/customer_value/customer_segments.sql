{#- One row per customer of `customers` (prospects included): value tier, lifecycle stage,
    behaviour classes with the figures that decided each label, and the RFM segment, all
    as of the run date (macro as_of_date). Thresholds are the analytics vars of
    dbt_project.yml. The order and unit figures come from the compact base
    int_customer_orders_summarised (one row per buyer), so a night reads no order line. -#}

{%- set as_of = as_of_date() %}
{%- set metric = var('value_tier_metric') %}
{%- if metric not in ['revenue', 'margin'] %}
    {{ exceptions.raise_compiler_error("var value_tier_metric must be revenue or margin, not " ~ metric) }}
{%- endif %}
{%- set min_orders = var('behaviour_min_orders') %}

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

    select customer_id, rfm_segment from {{ ref('customer_rfm') }}

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

-- the order and unit figures of each buyer, from the compact base (kept by customer)
behaviour as (

    select
        customer_id,
        paid_orders,
        online_orders,
        store_orders,
        discounted_orders,
        purchased_units,
        cheap_units,
        top_brand,
        top_brand_units
    from {{ ref('int_customer_orders_summarised') }}

),

social_figures as (

    select
        interactions.customer_id,
        count(*) as social_events
    from {{ ref('interactions') }} as interactions
    cross join run_date
    where interactions.source = 'social_events'
        and interactions.customer_id is not null
        and interactions.occurred_date <= run_date.as_of_date
        and interactions.occurred_date > {{ dbt.dateadd(
            'day', -var('social_engaged_window_days'), 'run_date.as_of_date') }}
    group by interactions.customer_id

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
                order by tier_value desc, customer_id
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
        coalesce(behaviour.paid_orders, 0) as paid_orders,
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
        behaviour.online_orders,
        behaviour.store_orders,
        behaviour.discounted_orders,
        coalesce(behaviour.purchased_units, 0) as purchased_units,
        coalesce(behaviour.cheap_units, 0) as cheap_units,
        behaviour.top_brand,
        coalesce(behaviour.top_brand_units, 0) as top_brand_units,
        coalesce(social_figures.social_events, 0) as social_events_recent,
        rfm.rfm_segment
    from customers
    cross join run_date
    left join purchases
        on customers.customer_id = purchases.customer_id
    left join tiers
        on customers.customer_id = tiers.customer_id
    left join behaviour
        on customers.customer_id = behaviour.customer_id
    left join social_figures
        on customers.customer_id = social_figures.customer_id
    left join rfm
        on customers.customer_id = rfm.customer_id

),

shares as (

    select
        figures.*,
        paid_orders >= {{ min_orders }} as behaviour_evaluated,
        {%- for name, numerator, denominator in [
            ('cheap_unit_share', 'cheap_units', 'purchased_units'),
            ('top_brand_unit_share', 'top_brand_units', 'purchased_units'),
            ('discounted_order_share', 'discounted_orders', 'paid_orders'),
            ('online_order_share', 'online_orders', 'paid_orders'),
            ('store_order_share', 'store_orders', 'paid_orders'),
        ] %}
        case
            when {{ denominator }} > 0
                then cast({{ numerator }} as {{ type_double() }}) / {{ denominator }}
        end as {{ name }}
        {{- "," if not loop.last }}
        {%- endfor %}
    from figures

),

-- Every label is decided on exact figures (counts, decimal amounts): share >= x is
-- written numerator >= x * denominator, so a boundary case (7 of 10 units at 0.7) never
-- depends on floating-point rounding. The *_share columns report the same ratios.
final as (

    select
        shares.customer_id,
        shares.as_of_date,
        shares.is_buyer,
        shares.paid_orders,
        shares.first_order_date,
        shares.last_order_date,
        shares.days_since_first_order,
        shares.days_since_last_order,
        shares.days_since_first_order as tenure_days,
        shares.paid_orders >= 2 as is_repeat_buyer,
        shares.net_revenue,
        shares.margin,

        '{{ metric }}' as value_tier_metric,
        shares.tier_value,
        shares.value_share_before,
        case
            when not shares.is_buyer then null
            when shares.value_before < {{ var('value_tier_high_share') }} * shares.value_total
                then 'high'
            when shares.value_before < {{ var('value_tier_mid_share') }} * shares.value_total
                then 'mid'
            else 'low'
        end as value_tier,

        case
            when not shares.is_buyer then 'prospect'
            when shares.days_since_first_order <= {{ var('lifecycle_new_days') }} then 'new'
            when shares.days_since_last_order <= {{ var('lifecycle_active_days') }} then 'active'
            when shares.days_since_last_order <= {{ var('lifecycle_churn_days') }} then 'at_risk'
            else 'churned'
        end as lifecycle_stage,

        coalesce(shares.rfm_segment, non_buyer_rule.segment) as rfm_segment,

        shares.behaviour_evaluated,
        shares.purchased_units,
        shares.cheap_unit_share,
        case
            when shares.behaviour_evaluated
                then shares.purchased_units > 0
                    and shares.cheap_units
                        >= {{ var('price_sensitive_min_share') }} * shares.purchased_units
        end as is_price_sensitive,
        shares.discounted_order_share,
        case
            when shares.behaviour_evaluated
                then shares.discounted_orders
                    >= {{ var('promotion_driven_min_share') }} * shares.paid_orders
        end as is_promotion_driven,
        shares.top_brand,
        shares.top_brand_unit_share,
        case
            when shares.behaviour_evaluated
                then shares.purchased_units > 0
                    and shares.top_brand_units
                        >= {{ var('brand_loyal_min_share') }} * shares.purchased_units
        end as is_brand_loyal,
        shares.online_order_share,
        shares.store_order_share,
        case
            when not shares.is_buyer then null
            when shares.online_orders
                >= {{ var('channel_preference_min_share') }} * shares.paid_orders
                then 'online'
            when shares.store_orders
                >= {{ var('channel_preference_min_share') }} * shares.paid_orders
                then 'store'
            else 'omnichannel'
        end as channel_preference,
        shares.social_events_recent,
        shares.social_events_recent >= {{ var('social_engaged_min_events') }} as is_socially_engaged

    from shares
    left join non_buyer_rule
        on not shares.is_buyer

)

select * from final
