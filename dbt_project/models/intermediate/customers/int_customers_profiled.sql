{#- One row per resolved customer (a cluster of identity records, see
    int_source_records_resolved): profile, primary contacts, first contact and channel
    footprint. Members who never bought are customers too (prospects). Raw personal data:
    read by the BI mart `customers` (hashed and masked) and restricted.customer_pii.

    A base kept by customer (delete+insert on customer_id; docs/incremental.md): a night
    recomputes, from all their records, the customers a record joined (the records
    int_source_records_resolved wrote after this model's _loaded_through) or left (the
    customer_id of the rows it replaced since this model's _built_at, from its log), and
    deletes the customers left with no record (a tombstone). Every column depends only on
    the customer's records, so no other customer can change; the age on the run date, which
    moves every night, is computed by the mart `customers`. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='customer_id',
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('record_count') }}",
    )
}}

with

{% if is_incremental() -%}
changed_customers as (
    select customer_id
    from {{ ref('int_source_records_resolved') }}
    where {{ after_watermark('_loaded_through') }}
    union
    select customer_id
    from {{ rows_replaced_since_built(ref('int_source_records_resolved'), ['customer_id']) }} as left_customers
),
{%- endif %}

records as (
    select
        r.customer_id,
        u.source,
        u.record_key,
        u.channel,
        u.first_seen_at,
        u.last_seen_at,
        u.person_name,
        u.city,
        u.marketing_consent
    from {{ ref('int_source_records_resolved') }} as r
    inner join {{ ref('int_identity_records_unioned') }} as u
        on r.source = u.source
        and r.record_key = u.record_key
    {%- if is_incremental() %}
    where r.customer_id in (select customer_id from changed_customers)
    {%- endif %}
),

summary as (
    select
        customer_id,
        count(*) as record_count,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        max(case when source = 'loyalty_members' then 1 else 0 end) = 1 as is_member
    from records
    group by customer_id
),

first_records as (
    -- the anchor's channel: the customer's earliest record, ordered as int_identifiers_linked
    -- chooses anchors
    select
        customer_id,
        channel as first_seen_channel
    from (
        select
            customer_id,
            channel,
            row_number() over (
                partition by customer_id
                order by first_seen_at, source, record_key
            ) as rank_in_customer
        from records
    ) as ranked
    where rank_in_customer = 1
),

source_lists as (
    select
        customer_id,
        {{ dbt.listagg('source', "','", 'order by source') }} as sources
    from (
        select distinct
            customer_id,
            source
        from records
    ) as customer_sources
    group by customer_id
),

names as (
    select
        customer_id,
        person_name,
        row_number() over (
            partition by customer_id
            order by count(*) desc, max(last_seen_at) desc, person_name
        ) as name_rank
    from records
    where person_name is not null
    group by customer_id, person_name
),

members as (
    select
        r.customer_id,
        m.card_no,
        m.gender,
        m.birthday,
        m.occupation,
        m.city,
        row_number() over (
            partition by r.customer_id
            order by m.joined_on desc, m.card_no desc
        ) as member_rank
    from {{ ref('stg_loyalty__members') }} as m
    inner join records as r
        on r.source = 'loyalty_members'
        and m.card_no = r.record_key
),

cities as (
    select
        customer_id,
        city,
        row_number() over (
            partition by customer_id
            order by last_seen_at desc, source asc, record_key asc
        ) as city_rank
    from records
    where city is not null
),

consents as (
    -- the latest statement wins (a member form or an order's accepts-marketing box)
    select
        customer_id,
        marketing_consent,
        row_number() over (
            partition by customer_id
            order by last_seen_at desc, source asc, record_key asc
        ) as consent_rank
    from records
    where marketing_consent is not null
),

contacts as (
    -- most frequent normalised e-mail / phone, then most recent; placeholders excluded,
    -- shared (family) phones kept: they reach the customer even though they cannot link
    select
        r.customer_id,
        n.identifier_type,
        n.identifier_value,
        row_number() over (
            partition by r.customer_id, n.identifier_type
            order by count(*) desc, max(n.last_seen_at) desc, n.identifier_value
        ) as contact_rank
    -- the customers' records as `records` holds them (on a night, those of the changed
    -- customers only): joined with the resolved records and filtered afterwards, DuckDB
    -- joined every identifier of the history first (at L 7.8 M rows for 0.36 M kept)
    from {{ ref('int_identifiers_normalised') }} as n
    inner join records as r
        on n.source = r.source
        and n.record_key = r.record_key
    left join {{ ref('int_identifiers_blocked') }} as b
        on n.identifier_type = b.identifier_type
        and n.identifier_value = b.identifier_value
        and b.block_rule = 'blocklist'
    where n.identifier_type in ('email', 'phone')
        and b.identifier_value is null
    group by r.customer_id, n.identifier_type, n.identifier_value
),

final as (
    select
        s.customer_id,
        n.person_name as display_name,
        m.gender,
        m.birthday,
        m.occupation,
        coalesce(m.city, c.city) as city,
        e.identifier_value as primary_email,
        p.identifier_value as primary_phone,
        s.first_seen_at,
        f.first_seen_channel,
        s.last_seen_at,
        s.is_member,
        m.card_no,
        k.marketing_consent,
        s.record_count,
        l.sources,
        -- the change feed's watermarks (docs/incremental.md)
        {{ identity_loaded_through() }} as _loaded_through,
        {{ run_timestamp() }} as _built_at
    from summary as s
    inner join first_records as f on s.customer_id = f.customer_id
    inner join source_lists as l on s.customer_id = l.customer_id
    left join names as n on s.customer_id = n.customer_id and n.name_rank = 1
    left join members as m on s.customer_id = m.customer_id and m.member_rank = 1
    left join cities as c on s.customer_id = c.customer_id and c.city_rank = 1
    left join consents as k on s.customer_id = k.customer_id and k.consent_rank = 1
    left join contacts as e
        on s.customer_id = e.customer_id and e.identifier_type = 'email' and e.contact_rank = 1
    left join contacts as p
        on s.customer_id = p.customer_id and p.identifier_type = 'phone' and p.contact_rank = 1

)

{% if is_incremental() %}

{{ rows_of_changed_keys('final', 'changed_customers', ['customer_id'], ['customer_id']) }}

{% else %}

select * from final

{% endif %}
