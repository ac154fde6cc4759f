{#- Prospecting: one row per funnel path and stage. Each stage keeps the customers of the
    previous one who also meet its condition, as of the run date:
      1 known_profile     every customer of `customers` (any identity record)
      2 member_or_follower / loyalty_member / social_follower (the path): a loyalty card,
                          and / or a social `follow` event
      3 engaged           any other social event (like, comment, share, message, review)
                          or a customer-service contact
      4 first_purchase    at least one paid order
    conversion_rate = customers / customers of the previous stage of the same path. -#}

{%- set as_of = as_of_date() %}
{%- set paths = [
    ('member_or_follower', 'is_member or is_follower'),
    ('loyalty_member', 'is_member'),
    ('social_follower', 'is_follower'),
] %}

with

interaction_flags as (

    select
        customer_id,
        max(case when interaction_type = 'follow' then 1 else 0 end) as has_follow,
        max(
            case
                when source = 'social_events' and interaction_type <> 'follow' then 1
                when source = 'service_interactions' then 1
                else 0
            end
        ) as has_engagement
    from {{ ref('interactions') }}
    where customer_id is not null
        and occurred_date <= {{ as_of }}
    group by customer_id

),

profiles as (

    select
        customers.customer_id,
        customers.is_member,
        coalesce(interaction_flags.has_follow, 0) = 1 as is_follower,
        coalesce(interaction_flags.has_engagement, 0) = 1 as is_engaged,
        segments.is_buyer
    from {{ ref('customers') }} as customers
    inner join {{ ref('customer_segments') }} as segments
        on customers.customer_id = segments.customer_id
    left join interaction_flags
        on customers.customer_id = interaction_flags.customer_id

),

stages as (

    {%- for path, condition in paths %}
    select
        '{{ path }}' as path,
        count(*) as known_profile,
        -- coalesce: with no customer at all the stages hold 0, not null
        cast(
            coalesce(sum(case when {{ condition }} then 1 else 0 end), 0) as {{ dbt.type_bigint() }}
        ) as reached,
        cast(
            coalesce(sum(case when ({{ condition }}) and is_engaged then 1 else 0 end), 0)
            as {{ dbt.type_bigint() }}
        ) as engaged,
        cast(
            coalesce(
                sum(case when ({{ condition }}) and is_engaged and is_buyer then 1 else 0 end), 0
            )
            as {{ dbt.type_bigint() }}
        ) as first_purchase
    from profiles
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

unpivoted as (

    select
        path,
        1 as stage_number,
        'known_profile' as stage,
        known_profile as customers,
        cast(null as {{ dbt.type_bigint() }}) as previous_customers,
        known_profile
    from stages
    union all
    select
        path,
        2 as stage_number,
        path as stage,
        reached as customers,
        known_profile as previous_customers,
        known_profile
    from stages
    union all
    select
        path,
        3 as stage_number,
        'engaged' as stage,
        engaged as customers,
        reached as previous_customers,
        known_profile
    from stages
    union all
    select
        path,
        4 as stage_number,
        'first_purchase' as stage,
        first_purchase as customers,
        engaged as previous_customers,
        known_profile
    from stages

),

final as (

    select
        path,
        stage_number,
        stage,
        customers,
        previous_customers,
        case
            when previous_customers > 0
                then cast(customers as {{ type_double() }}) / previous_customers
        end as conversion_rate,
        case
            when known_profile > 0
                then cast(customers as {{ type_double() }}) / known_profile
        end as share_of_known_profiles
    from unpivoted

)

select * from final
