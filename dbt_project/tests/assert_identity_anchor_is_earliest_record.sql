{{ config(meta={'dagster': {'ref': {'name': 'int_source_records_resolved'}}}) }}

{#- The customer_id of every record is derived from its cluster's earliest record by
    (first_seen_at, source, record_key), and that record carries the same id: the rule
    that keeps ids stable across runs. -#}

with

records as (
    select
        r.customer_id,
        u.source,
        u.record_key,
        u.record_seq,
        {{ identity_customer_id('u.source', 'u.record_key') }} as own_id
    from {{ ref('int_source_records_resolved') }} as r
    inner join {{ ref('int_identity_records_unioned') }} as u
        on r.source = u.source
        and r.record_key = u.record_key
),

anchors as (
    select customer_id, min(record_seq) as anchor_seq
    from records
    group by customer_id
)

select r.customer_id, r.source, r.record_key, r.own_id
from records as r
inner join anchors as a
    on r.customer_id = a.customer_id
    and r.record_seq = a.anchor_seq
where r.own_id <> r.customer_id
