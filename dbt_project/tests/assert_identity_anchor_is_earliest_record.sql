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
    {%- if tests_read_the_night() %}
    -- on a night, the customers of the records the last run resolved: a record whose
    -- first_seen_at or customer changed is among them, so no other customer's rule moved
    where r.customer_id in (
        select w.customer_id
        from {{ ref('int_source_records_resolved') }} as w
        where {{ of_last_write(ref('int_source_records_resolved'), 'w') }}
    )
    {%- endif %}
)

select customer_id, source, record_key, own_id
from records
where rank_in_customer = 1
    and own_id <> customer_id
