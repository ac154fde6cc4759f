{#- One row per identity record: anything that says "this is one person" (a member card,
    a social account, an identified order, receipt or service contact). record_id is a
    stable integer key of (source, record_key) for the graph's joins; the earliest record
    of a cluster by (first_seen_at, source, record_key) is its anchor and names the
    customer (int_identifiers_linked, int_source_records_resolved).

    Kept by record like int_identifiers_normalised (delete+insert on (source, record_key),
    macros/incremental/change_feed.sql): a record's row depends on its own staging rows and
    identifiers only (whether it identifies someone depends on the blocklist seed, whose
    change rebuilds this model through its fingerprint). A touched record that no longer
    identifies anyone gets a tombstone. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source', 'record_key'],
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('record_id') }}",
    )
}}

with

{% if is_incremental() -%}
changed_records as (
    {{ identity_changed_records() }}
),
{%- endif %}

identifying as (
    -- Orders, receipts and service contacts are records only when they identify someone:
    -- an identifier that normalises and is not a blocklisted placeholder. One without
    -- (a Tmall report without buyers, a guest checkout) is anonymous: no customer, rather
    -- than one customer per order.
    select distinct
        n.source,
        n.record_key
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
    {%- if is_incremental() %}
        and exists (
            select 1 from changed_records as c
            where c.source = n.source and c.record_key = n.record_key
        )
    {%- endif %}
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
    where {{ is_changed_record('shopify_orders', 'order_name') }}
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
    where {{ is_changed_record('tmall_orders', 'order_id') }}
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
    where {{ is_changed_record('pos_transactions', 'receipt_key') }}
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
    where {{ is_changed_record('loyalty_members', 'card_no') }}
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
    where {{ is_changed_record('social_events', social_record_key('platform', 'handle')) }}
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
    where {{ is_changed_record('generic_orders', 'o.order_key') }}
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
    where {{ is_changed_record('service_interactions', 'interaction_id') }}
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
),

final as (
    select
        source,
        record_key,
        {{ identity_record_id('source', 'record_key') }} as record_id,
        channel,
        first_seen_at,
        last_seen_at,
        person_name,
        city,
        marketing_consent,
        -- the change feed's watermark (docs/incremental.md)
        {{ identity_loaded_through() }} as _loaded_through
    from records
)

{% if is_incremental() %}

{{ rows_of_changed_keys('final', 'changed_records', ['source', 'record_key'], ['source', 'record_key']) }}

{% else %}

select * from final

{% endif %}
