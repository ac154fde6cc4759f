{#- One row per month, channel and customer with a paid order (orders.is_paid) on or
    before the as-of date: the paid orders, their net revenue and the first of them. The
    anonymous orders of a month and channel form one row with a null customer_id. A
    compact base for the monthly KPIs (kpis_monthly): about half as many rows as paid
    orders (264,768 for 502,451 at M), and a night rewrites only the groups it touched.

    Kept by group (delete+insert on customer_month_key; docs/incremental.md, "Bases kept
    by another key"): a night recomputes, from all their orders, the groups an order
    joined (the orders the orders mart wrote after this model's _built_at) or left (the
    customer, day and channel of the rows the orders mart replaced since then, from its
    log), and deletes the groups left with no paid order (a tombstone). With var
    as_of_date set, orders after it are left out (a change of the var rebuilds the model:
    its fingerprint changes); without it the as-of date is the newest paid order's day,
    which no paid order is after. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='customer_month_key',
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('paid_orders') }}",
    )
}}

{%- set month_of_order = 'cast(' ~ dbt.date_trunc('month', 'order_date') ~ ' as date)' %}
{%- set group_key = dbt.concat([
    'cast(' ~ month_of_order ~ ' as ' ~ dbt.type_string() ~ ')', "'|'", 'channel', "'|'",
    "coalesce(customer_id, '')",
]) %}

with

{% if is_incremental() -%}
changed_groups as (

    select {{ group_key }} as customer_month_key
    from {{ ref('orders') }}
    where {{ after_watermark('_built_at', '_built_at') }}
    union
    select {{ group_key }} as customer_month_key
    from {{ rows_replaced_since_built(ref('orders'), ['customer_id', 'order_date', 'channel']) }}
        as left_groups

),
{%- endif %}

paid_orders as (

    select
        {{ group_key }} as customer_month_key,
        {{ month_of_order }} as month,
        channel,
        customer_id,
        order_id,
        ordered_at,
        net_amount_reporting
    from {{ ref('orders') }}
    where is_paid
    {%- if var('as_of_date', none) %}
        and order_date <= {{ as_of_date() }}
        {%- endif %}
    {%- if is_incremental() %}
        and {{ group_key }} in (select customer_month_key from changed_groups)
        {%- endif %}

),

ranked as (

    select
        paid_orders.*,
        row_number() over (
            partition by paid_orders.customer_month_key
            order by paid_orders.ordered_at, paid_orders.order_id
        ) as order_rank
    from paid_orders

),

final as (

    select
        customer_month_key,
        month,
        channel,
        customer_id,
        count(*) as paid_orders,
        sum(net_amount_reporting) as net_revenue,
        -- the group's first order, by (ordered_at, order_id): a customer's first paid order
        -- is the first of its groups' first orders
        min(case when order_rank = 1 then ordered_at end) as first_ordered_at,
        min(case when order_rank = 1 then order_id end) as first_order_id,
        {{ run_timestamp() }} as _built_at
    from ranked
    group by customer_month_key, month, channel, customer_id

)

{% if is_incremental() %}

{{ rows_of_changed_keys('final', 'changed_groups', ['customer_month_key'], ['customer_month_key']) }}

{% else %}

select * from final

{% endif %}
