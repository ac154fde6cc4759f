-- What the model is: its YAML. Kept by key on order_id: a night rewrites the orders of
-- the four change sets (a)-(d) of docs/incremental.md (the blocks below are lettered so).
-- A new column derived from another table must join one of them, or rows no delivery
-- touches keep its stale value. Replaced rows are logged (log_replaced) so that
-- int_customer_months_summarised recomputes the group an order left.
-- dbt's parser must see the refs inside the is_incremental() block:
-- depends_on: {{ ref('customer_id_assignments') }}, {{ ref('int_fx_rates_resolved') }}

{#- the staging models kept by key this model reads: (source, key column) of each -#}
{%- set kept_staging = {
    'stg_shopify__orders': ('shopify_orders', 'order_name'),
    'stg_shopify__order_lines': ('shopify_orders', 'order_name'),
    'stg_tmall__orders': ('tmall_orders', 'order_id'),
    'stg_tmall__order_items': ('tmall_orders', 'order_id'),
    'stg_pos__receipt_lines': ('pos_transactions', 'receipt_key'),
} %}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='order_id',
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('source') }}",
        log_replaced=['customer_id', 'order_date', 'channel'],
    )
}}

with

{% if is_incremental() -%}
changed_orders as (

    -- (a) header or lines written to staging since this model last consumed it
    {%- for model, (order_source, key) in kept_staging.items() %}
    select '{{ order_source }}' as source, {{ key }} as order_key
    from {{ ref(model) }}
    where {{ after_watermark('_loaded_through') }}
    union
    {%- endfor %}
    -- (b) records assigned another customer id since this model last wrote
    select source, record_key as order_key
    from {{ ref('customer_id_assignments') }}
    where {{ after_watermark('assigned_at', '_built_at') }}
        and source in ('shopify_orders', 'tmall_orders', 'pos_transactions', 'generic_orders')
    union
    -- (c) orders whose rate the resolved rates now give differently
    {{ orders_with_changed_rates() }}
    union
    -- (d) mapped exports: every order, stored or fresh
    select source, order_key from {{ this }} where source = 'generic_orders'
    union
    select source, order_key from {{ ref('int_orders_converted') }} where source = 'generic_orders'

),
{%- endif %}

-- On an incremental run the orders and their lines are narrowed to the changed orders
-- first: the lines are then counted for those orders only.
{%- set among_changed_orders %}
    exists (
        select 1 from changed_orders
        where changed_orders.source = upstream.source
            and changed_orders.order_key = upstream.order_key
    )
{%- endset %}

orders as (

    select * from {{ ref('int_orders_converted') }} as upstream
    {%- if is_incremental() %}
    where {{ among_changed_orders }}
    {%- endif %}

),

order_lines as (

    select
        source,
        order_key,
        count(*) as line_count,
        sum(quantity) as item_quantity
    from {{ ref('int_order_lines_unioned') }} as upstream
    {%- if is_incremental() %}
    where {{ among_changed_orders }}
    {%- endif %}
    group by source, order_key

),

resolved_records as (

    select
        source,
        record_key,
        customer_id
    from {{ ref('int_source_records_resolved') }}

),

final as (

    select
        {{ dbt.concat(['orders.source', "':'", 'orders.order_key']) }} as order_id,
        orders.order_key,
        orders.source,
        orders.channel,
        orders.store_id,
        resolved_records.customer_id,

        orders.ordered_at,
        orders.order_date,
        orders.status,
        orders.is_paid,
        orders.is_cancelled,
        orders.payment_method,
        orders.discount_code,
        coalesce(order_lines.line_count, 0) as line_count,
        order_lines.item_quantity,

        orders.currency,
        orders.gross_amount,
        orders.discount_amount,
        orders.refunded_amount,
        orders.net_amount,

        orders.reporting_currency,
        orders.fx_rate,
        orders.fx_rate_source,
        orders.fx_rate_date,
        orders.gross_amount_reporting,
        orders.discount_amount_reporting,
        orders.refunded_amount_reporting,
        orders.net_amount_reporting,

        -- the change feed's watermarks (docs/incremental.md)
        {{ staging_loaded_through(kept_staging.keys() | list) }} as _loaded_through,
        {{ run_timestamp() }} as _built_at

    from orders
    left join order_lines
        on orders.source = order_lines.source
        and orders.order_key = order_lines.order_key
    left join resolved_records
        on orders.source = resolved_records.source
        and orders.order_key = resolved_records.record_key

)

{% if is_incremental() %}

{{ rows_of_changed_keys(
    'final', 'changed_orders', ['source', 'order_key'], 'order_id',
    dbt.concat(['changed_orders.source', "':'", 'changed_orders.order_key']),
) }}

{% else %}

select * from final

{% endif %}
