{#- One row per customer of `customers`: the behaviour classes of customer_segments with
    the figures that decided each label. The order and unit figures come from the compact
    base int_customer_orders_summarised (one row per buyer), so a night reads no order
    line; the social window moves with the run date, hence a table. -#}

{%- set min_orders = var('behaviour_min_orders') %}

with

run_date as (

    select {{ as_of_date() }} as as_of_date

),

customers as (

    select customer_id from {{ ref('customers') }}

),

-- the order and unit figures of each buyer (no row: not a buyer)
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
        and {{ in_days_ending_on(
            'interactions.occurred_date', var('social_engaged_window_days'), 'run_date.as_of_date'
        ) }}
    group by interactions.customer_id

),

figures as (

    select
        customers.customer_id,
        behaviour.customer_id is not null as is_buyer,
        coalesce(behaviour.paid_orders, 0) as paid_orders,
        behaviour.online_orders,
        behaviour.store_orders,
        behaviour.discounted_orders,
        coalesce(behaviour.purchased_units, 0) as purchased_units,
        coalesce(behaviour.cheap_units, 0) as cheap_units,
        behaviour.top_brand,
        coalesce(behaviour.top_brand_units, 0) as top_brand_units,
        coalesce(social_figures.social_events, 0) as social_events_recent
    from customers
    left join behaviour
        on customers.customer_id = behaviour.customer_id
    left join social_figures
        on customers.customer_id = social_figures.customer_id

),

shares as (

    select
        figures.*,
        figures.paid_orders >= {{ min_orders }} as behaviour_evaluated,  -- noqa: disable=LT02
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
        {%- endfor %}  -- noqa: enable=LT02
    from figures

),

-- Every label is decided on exact figures (counts): share >= x is written
-- numerator >= x * denominator, so a boundary case (7 of 10 units at 0.7) never depends
-- on floating-point rounding. The *_share columns report the same ratios.
final as (

    select
        customer_id,
        paid_orders,
        behaviour_evaluated,
        purchased_units,
        cheap_unit_share,
        case
            when behaviour_evaluated
                then purchased_units > 0
                    and cheap_units >= {{ var('price_sensitive_min_share') }} * purchased_units
        end as is_price_sensitive,
        discounted_order_share,
        case
            when behaviour_evaluated
                then discounted_orders >= {{ var('promotion_driven_min_share') }} * paid_orders
        end as is_promotion_driven,
        top_brand,
        top_brand_unit_share,
        case
            when behaviour_evaluated
                then purchased_units > 0
                    and top_brand_units >= {{ var('brand_loyal_min_share') }} * purchased_units
        end as is_brand_loyal,
        online_order_share,
        store_order_share,
        case
            when not is_buyer then null
            when online_orders >= {{ var('channel_preference_min_share') }} * paid_orders
                then 'online'
            when store_orders >= {{ var('channel_preference_min_share') }} * paid_orders
                then 'store'
            else 'omnichannel'
        end as channel_preference,
        social_events_recent,
        social_events_recent >= {{ var('social_engaged_min_events') }} as is_socially_engaged
    from shares

)

select * from final
