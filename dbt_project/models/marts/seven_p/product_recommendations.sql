{#- Product: one row per buyer and recommendation rank (1 .. var
    recommendations_per_customer): SKUs the customer has not bought, scored by the sum over
    the SKUs they did buy of the lift of each product_affinity pair (lift above var
    recommendation_min_lift), then by the summed confidence bought -> recommended; ties
    by SKU. Scores are rounded to 6 decimals before ranking so the order never depends on
    the summation order of floating-point numbers.

    Kept by customer (delete+insert on customer_id; docs/incremental.md, "Marts kept by
    customer"): a customer's recommendations depend only on what they bought and on the
    product pairs. The pairs are rebuilt once a week (product_affinity, tag weekly), and
    their fingerprint is part of this model's, so the week's first run rebuilds every
    customer here too; on the other nights a run recomputes the customers an order joined
    (the orders the orders mart wrote after this model's _built_at) or left (the customer
    of the rows it replaced since then, from its log: a merged-away customer loses its
    rows), and deletes those left with no recommendation (a tombstone). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='customer_id',
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('product_sku') }}",
    )
}}

{%- set as_of = as_of_date() %}

with

{% if is_incremental() -%}
changed_customers as (

    {{ customers_of_changed_orders() }}

),
{%- endif %}

rules as (

    -- each pair both ways: bought (from_sku) -> recommended (to_sku)
    select
        sku_a as from_sku,
        sku_b as to_sku,
        confidence_a_to_b as confidence,
        lift
    from {{ ref('product_affinity') }}
    where lift > {{ var('recommendation_min_lift') }}
    union all
    select
        sku_b as from_sku,
        sku_a as to_sku,
        confidence_b_to_a as confidence,
        lift
    from {{ ref('product_affinity') }}
    where lift > {{ var('recommendation_min_lift') }}

),

bought as (

    select distinct
        order_lines.customer_id,
        order_lines.product_sku as sku
    from {{ ref('order_lines') }} as order_lines
    inner join {{ ref('orders') }} as orders
        on order_lines.order_id = orders.order_id
    where orders.is_paid
        and orders.order_date <= {{ as_of }}
        and order_lines.customer_id is not null
        and order_lines.product_sku is not null
        and order_lines.quantity > 0
    {%- if is_incremental() %}
        -- both sides of the join restricted to the night's customers before joining (a
        -- line's customer is its order's): DuckDB otherwise joins every paid order's
        -- lines first (3.6 -> 1.3 s on an L night)
        and order_lines.customer_id in (select customer_id from changed_customers)
        and orders.customer_id in (select customer_id from changed_customers)
        {%- endif %}

),

candidates as (

    select
        bought.customer_id,
        rules.to_sku as product_sku,
        round(sum(rules.lift), 6) as lift_score,
        round(sum(rules.confidence), 6) as confidence_score,
        count(*) as supporting_skus
    from bought
    inner join rules
        on bought.sku = rules.from_sku
    left join bought as already
        on bought.customer_id = already.customer_id
        and rules.to_sku = already.sku
    where already.sku is null
    group by bought.customer_id, rules.to_sku

),

ranked as (

    select
        candidates.*,
        row_number() over (
            partition by candidates.customer_id
            order by
                candidates.lift_score desc,
                candidates.confidence_score desc,
                candidates.product_sku asc
        ) as recommendation_rank
    from candidates

),

final as (

    select
        customer_id,
        recommendation_rank,
        product_sku,
        lift_score,
        confidence_score,
        supporting_skus,
        {{ run_timestamp() }} as _built_at
    from ranked
    where recommendation_rank <= {{ var('recommendations_per_customer') }}

)

{% if is_incremental() %}

{{ rows_of_changed_keys('final', 'changed_customers', ['customer_id'], ['customer_id']) }}

{% else %}

select * from final

{% endif %}
