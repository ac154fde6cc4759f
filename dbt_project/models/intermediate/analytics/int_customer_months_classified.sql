{#- One row per customer, month and channel (online, store, and 'all' for either) in which
    the customer has a paid order on or before the as-of date, with what kpis_monthly
    counts of it: whether the month holds the customer's first paid order (in that
    channel, or any for 'all'), whether that first order was in an earlier month, whether
    the customer bought in the same channel the month before, and whether it is the
    customer's first month in the channel. Each of these depends on the customer's other
    months, so kpis_monthly would otherwise rank and self-join every customer-month of the
    history every night; here it sums flags.

    Kept by customer (delete+insert on customer_id; docs/incremental.md, "Bases kept by
    another key"): a night recomputes, from all their rows of int_customer_months_summarised,
    the customers an order joined or left (customers_of_changed_orders: the same orders
    that base recomputes its groups from), and deletes the customers left with no paid
    order (a tombstone). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='customer_id',
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('month') }}",
    )
}}

{#- the orders mart is read only on a night kept by key, where dbt's parse cannot see it -#}
-- depends_on: {{ ref('orders') }}

with

{% if is_incremental() -%}
changed_customers as (

    {{ customers_of_changed_orders() }}

),
{%- endif %}

customer_groups as (

    select
        month,
        channel,
        customer_id,
        first_ordered_at,
        first_order_id
    from {{ ref('int_customer_months_summarised') }}
    where customer_id is not null
    {%- if is_incremental() %}
        and customer_id in (select customer_id from changed_customers)
        {%- endif %}

),

-- the customer's first paid order (any channel): the first of its groups' first orders
first_orders as (

    select
        customer_id,
        month as first_month,
        channel as first_channel
    from (
        select
            customer_id,
            month,
            channel,
            row_number() over (
                partition by customer_id
                order by first_ordered_at, first_order_id
            ) as order_rank
        from customer_groups
    ) as ranked
    where order_rank = 1

),

-- a month of either channel is a month of 'all'
channel_months as (

    select
        customer_id,
        month,
        channel
    from customer_groups
    union all
    select distinct
        customer_id,
        month,
        'all' as channel
    from customer_groups

),

sequenced as (

    select
        channel_months.customer_id,
        channel_months.month,
        channel_months.channel,
        first_orders.first_month,
        first_orders.first_channel,
        lag(channel_months.month) over (
            partition by channel_months.customer_id, channel_months.channel
            order by channel_months.month
        ) as previous_month_in_channel
    from channel_months
    inner join first_orders
        on channel_months.customer_id = first_orders.customer_id

),

final as (

    select
        customer_id,
        month,
        channel,
        month = first_month and channel in (first_channel, 'all') as is_new_customer,
        first_month < month as is_repeat_customer,
        coalesce(
            previous_month_in_channel = cast({{ dbt.dateadd('month', -1, 'month') }} as date),
            false
        ) as is_retained,
        previous_month_in_channel is null as is_first_in_channel,
        {{ run_timestamp() }} as _built_at
    from sequenced

)

{% if is_incremental() %}

{{ rows_of_changed_keys('final', 'changed_customers', ['customer_id'], ['customer_id']) }}

{% else %}

select * from final

{% endif %}
