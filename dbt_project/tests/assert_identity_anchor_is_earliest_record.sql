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
        {{ identity_customer_id('u.source', 'u.record_key') }} as own_id,
        row_number() over (
            partition by r.customer_id
            order by u.first_seen_at, u.source, u.record_key
        ) as rank_in_customer
    from {{ ref('int_source_records_resolved') }} as r
    inner join {{ ref('int_identity_records_unioned') }} as u
        on r.source = u.source
        and r.record_key = u.record_key
)

select customer_id, source, record_key, own_id
from records
where rank_in_customer = 1
    and own_id <> customer_id
