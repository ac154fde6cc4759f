{#- Audience: one row per high-value customer (value_tier high) who is at_risk or
    churned as of the run date, with the figures that put them on the list. No contact
    data: the export joins masked contacts and checks consent. -#}

select
    customer_id,
    as_of_date,
    value_tier,
    value_tier_metric,
    tier_value,
    lifecycle_stage,
    last_order_date,
    days_since_last_order,
    paid_orders,
    net_revenue,
    rfm_segment
from {{ ref('customer_segments') }}
where value_tier = 'high'
    and lifecycle_stage in ('at_risk', 'churned')
