{#- One row per identity record: anything that says "this is one person" (a member card,
    a social account, an identified order, receipt or service contact). record_seq
    orders records by (first_seen_at, source, record_key); the smallest record_seq of a
    cluster is its anchor and names the customer (int_source_records_resolved). -#}

with

identifying as (
    -- Orders, receipts and service contacts are records only when they identify someone:
    -- an identifier that normalises and is not a blocklisted placeholder. One without
    -- (a Tmall report without buyers, a guest checkout) is anonymous: no customer, rather
    -- than one customer per order.
    select distinct n.source, n.record_key
    from {{ ref('int_identifiers_normalised') }} as n
    left join {{ ref('int_identifiers_blocked') }} as b
        on n.identifier_type = b.identifier_type
        and n.identifier_value = b.identifier_value
        and b.block_rule = 'blocklist'
    where n.source in (
        'shopify_orders', 'tmall_orders', 'pos_transactions', 'generic_orders',
        'service_interactions'
    )
        and b.identifier_value is null
),

shopify as (
    select
        'shopify_orders' as source,
        order_name as record_key,
        'online' as channel,
        {{ identity_timestamp('created_at') }} as first_seen_at,
        {{ identity_timestamp('created_at') }} as last_seen_at,
        billing_name as person_name,
        billing_city as city,
        accepts_marketing as marketing_consent
    from {{ ref('stg_shopify__orders') }}
),

tmall as (
    select
        'tmall_orders' as source,
        order_id as record_key,
        'online' as channel,
        {{ identity_timestamp('created_at') }} as first_seen_at,
        {{ identity_timestamp('created_at') }} as last_seen_at,
        receiver_name as person_name,
        cast(null as {{ dbt.type_string() }}) as city,
        cast(null as {{ dbt.type_boolean() }}) as marketing_consent
    from {{ ref('stg_tmall__orders') }}
),

pos as (
    select
        'pos_transactions' as source,
        receipt_key as record_key,
        'store' as channel,
        min({{ identity_timestamp('sold_at') }}) as first_seen_at,
        max({{ identity_timestamp('sold_at') }}) as last_seen_at,
        cast(null as {{ dbt.type_string() }}) as person_name,
        cast(null as {{ dbt.type_string() }}) as city,
        cast(null as {{ dbt.type_boolean() }}) as marketing_consent
    from {{ ref('stg_pos__receipt_lines') }}
    group by receipt_key
),

loyalty as (
    select
        'loyalty_members' as source,
        card_no as record_key,
        'store' as channel,
        {{ identity_local_day_start('joined_on') }} as first_seen_at,
        {{ identity_local_day_start('joined_on') }} as last_seen_at,
        member_name as person_name,
        city,
        marketing_consent
    from {{ ref('stg_loyalty__members') }}
),

social as (
    select
        'social_events' as source,
        {{ social_record_key('platform', 'handle') }} as record_key,
        'social' as channel,
        min({{ identity_timestamp('event_at') }}) as first_seen_at,
        max({{ identity_timestamp('event_at') }}) as last_seen_at,
        cast(null as {{ dbt.type_string() }}) as person_name,
        cast(null as {{ dbt.type_string() }}) as city,
        cast(null as {{ dbt.type_boolean() }}) as marketing_consent
    from {{ ref('stg_social__events') }}
    group by {{ social_record_key('platform', 'handle') }}
),

generic as (
    select
        'generic_orders' as source,
        o.order_key as record_key,
        o.channel,
        {{ identity_timestamp('o.ordered_at') }} as first_seen_at,
        {{ identity_timestamp('o.ordered_at') }} as last_seen_at,
        coalesce(o.customer_name, c.customer_name) as person_name,
        coalesce(o.city, c.city) as city,
        cast(null as {{ dbt.type_boolean() }}) as marketing_consent
    from {{ ref('stg_generic__orders') }} as o
    left join {{ ref('stg_generic__customers') }} as c
        on c.customer_key = {{ dbt.concat(['o.export_name', "':'", 'o.customer_ref']) }}
),

service as (
    select
        'service_interactions' as source,
        interaction_id as record_key,
        'service' as channel,
        {{ identity_timestamp('started_at') }} as first_seen_at,
        {{ identity_timestamp('started_at') }} as last_seen_at,
        cast(null as {{ dbt.type_string() }}) as person_name,
        cast(null as {{ dbt.type_string() }}) as city,
        cast(null as {{ dbt.type_boolean() }}) as marketing_consent
    from {{ ref('stg_service__interactions') }}
),

records as (
    select s.*
    from shopify as s
    inner join identifying as i on s.source = i.source and s.record_key = i.record_key
    union all
    select t.*
    from tmall as t
    inner join identifying as i on t.source = i.source and t.record_key = i.record_key
    union all
    select g.*
    from generic as g
    inner join identifying as i on g.source = i.source and g.record_key = i.record_key
    union all
    select * from loyalty
    union all
    select * from social
    union all
    select p.*
    from pos as p
    inner join identifying as i on p.source = i.source and p.record_key = i.record_key
    union all
    select s.*
    from service as s
    inner join identifying as i on s.source = i.source and s.record_key = i.record_key
)

select
    source,
    record_key,
    row_number() over (order by first_seen_at, source, record_key) as record_seq,
    channel,
    first_seen_at,
    last_seen_at,
    person_name,
    city,
    marketing_consent
from records
