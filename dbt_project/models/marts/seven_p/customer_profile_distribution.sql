{#- Profiling: one row per profile dimension and value, with the customers (all of
    `customers`, prospects included) who have it and their share of all customers. -#}

{%- set dimensions = [
    ('gender', 'customers.gender'),
    ('age_band', 'customers.age_band'),
    ('city', 'customers.city'),
    ('occupation', 'customers.occupation'),
    ('first_channel', 'customers.first_seen_channel'),
    ('value_tier', 'segments.value_tier'),
    ('lifecycle_stage', 'segments.lifecycle_stage'),
] %}

with

profiles as (

    select
        customers.customer_id,
        {%- for name, column in dimensions %}
        cast({{ column }} as {{ dbt.type_string() }}) as {{ name }},
        {%- endfor %}
        segments.is_buyer,
        segments.net_revenue
    from {{ ref('customers') }} as customers
    inner join {{ ref('customer_segments') }} as segments
        on customers.customer_id = segments.customer_id

),

unpivoted as (

    {%- for name, column in dimensions %}
    select
        '{{ name }}' as dimension,
        coalesce({{ name }}, '{{ "none" if name == "value_tier" else "unknown" }}') as value,
        customer_id,
        is_buyer,
        net_revenue
    from profiles
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

counted as (

    select
        dimension,
        value,
        count(*) as customers,
        cast(sum(case when is_buyer then 1 else 0 end) as {{ dbt.type_bigint() }}) as buyers,
        coalesce(sum(net_revenue), 0) as net_revenue
    from unpivoted
    group by dimension, value

),

final as (

    select
        dimension,
        value,
        customers,
        cast(customers as {{ type_double() }})
        / sum(customers) over (partition by dimension) as share,
        buyers,
        net_revenue
    from counted

)

select * from final
