{#- Promotion: one row per promotion, as of the run date. A promotion is a discount code
    (compared case-insensitively), a campaign of campaign_spend, or both when the
    campaign name equals the code (case-insensitive); discounted orders without a code
    (store promotions, member days) form one 'uncoded discounts' row per channel.
    new_customers = customers whose first paid order carried the promotion. -#}

{%- set as_of = as_of_date() %}

with

paid_orders as (

    select
        order_id,
        customer_id,
        channel,
        ordered_at,
        order_date,
        net_amount_reporting,
        coalesce(discount_amount_reporting, 0) as discount_amount_reporting,
        case
            when discount_code is not null
                then {{ dbt.concat(["'code:'", 'lower(discount_code)']) }}
            when discount_amount > 0
                then {{ dbt.concat(["'uncoded:'", 'channel']) }}
        end as promotion_key,
        discount_code
    from {{ ref('orders') }}
    where is_paid
        and order_date <= {{ as_of }}

),

-- each buyer's first paid order, by (ordered_at, order_id), from the compact base
first_orders as (

    select
        customer_id,
        first_order_id as order_id
    from {{ ref('int_customer_orders_summarised') }}

),

order_results as (

    select
        paid_orders.promotion_key,
        max(paid_orders.discount_code) as discount_code,
        max(paid_orders.channel) as channel,
        count(*) as orders,
        count(distinct paid_orders.customer_id) as customers,
        sum(paid_orders.net_amount_reporting) as net_revenue,
        sum(paid_orders.discount_amount_reporting) as discount_cost,
        count(first_orders.order_id) as new_customers,
        min(paid_orders.order_date) as first_order_date,
        max(paid_orders.order_date) as last_order_date
    from paid_orders
    left join first_orders
        on paid_orders.order_id = first_orders.order_id
    where paid_orders.promotion_key is not null
    group by paid_orders.promotion_key

),

spend_channels as (

    select
        {{ dbt.concat(["'code:'", 'lower(campaign)']) }} as promotion_key,
        marketing_channel,
        max(campaign) as campaign,
        sum(spend_reporting) as campaign_spend
    from ({{ campaign_spend_reporting() }}) as spend_rows
    group by {{ dbt.concat(["'code:'", 'lower(campaign)']) }}, marketing_channel

),

spend as (

    select
        promotion_key,
        max(campaign) as campaign,
        {{ dbt.listagg('marketing_channel', "','", 'order by marketing_channel') }}
            as marketing_channels,
        sum(campaign_spend) as campaign_spend
    from spend_channels
    group by promotion_key

),

joined as (

    select
        coalesce(order_results.promotion_key, spend.promotion_key) as promotion_key,
        case
            when order_results.promotion_key like 'uncoded:%'
                then {{ dbt.concat(["'uncoded discounts ('", 'order_results.channel', "')'"]) }}
            else coalesce(order_results.discount_code, spend.campaign)
        end as promotion,
        case
            when order_results.promotion_key like 'uncoded:%' then 'uncoded_discount'
            when order_results.promotion_key is not null and spend.promotion_key is not null
                then 'code_with_campaign'
            when order_results.promotion_key is not null then 'discount_code'
            else 'campaign'
        end as promotion_type,
        spend.marketing_channels,
        coalesce(order_results.orders, 0) as orders,
        coalesce(order_results.customers, 0) as customers,
        coalesce(order_results.new_customers, 0) as new_customers,
        coalesce(order_results.net_revenue, 0) as net_revenue,
        coalesce(order_results.discount_cost, 0) as discount_cost,
        coalesce(spend.campaign_spend, 0) as campaign_spend,
        order_results.first_order_date,
        order_results.last_order_date
    from order_results
    full outer join spend
        on order_results.promotion_key = spend.promotion_key

),

final as (

    select
        promotion_key,
        promotion,
        promotion_type,
        marketing_channels,
        orders,
        customers,
        new_customers,
        net_revenue,
        discount_cost,
        campaign_spend,
        discount_cost + campaign_spend as total_cost,
        case
            when new_customers > 0
                then cast(campaign_spend as {{ type_double() }}) / new_customers
        end as spend_per_new_customer,
        case
            when discount_cost + campaign_spend > 0
                then cast(net_revenue as {{ type_double() }}) / (discount_cost + campaign_spend)
        end as revenue_per_cost,
        first_order_date,
        last_order_date
    from joined

)

select * from final
