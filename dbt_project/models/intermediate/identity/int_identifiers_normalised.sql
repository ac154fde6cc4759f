{#- One row per identity record and normalised identifier it carries. Reads staging
    directly (not int_identity_records_unioned) because the record list itself depends on
    which identifiers are blocked (anonymous POS receipts and service contacts).

    Kept by record (delete+insert on (source, record_key); macros/incremental/change_feed.sql):
    a record's identifiers depend on its own staging rows only, so a night normalises the
    records with a staging row written since this model's _loaded_through (all the events
    of a touched social account, all the lines of a touched receipt) and every record of a
    mapped export. A touched record with no identifier left gets a tombstone, which
    deletes its stored rows. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source', 'record_key'],
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('identifier_type') }}",
    )
}}

with

{% if is_incremental() -%}
changed_records as (
    {{ identity_changed_records() }}
),
{%- endif %}

shopify as (
    select
        'shopify_orders' as source,
        order_name as record_key,
        created_at as seen_at,
        billing_name as person_name,
        email,
        phone,
        cast(null as {{ dbt.type_string() }}) as alt_phone
    from {{ ref('stg_shopify__orders') }}
    where {{ is_changed_record('shopify_orders', 'order_name') }}
),

tmall as (
    select
        'tmall_orders' as source,
        order_id as record_key,
        created_at as seen_at,
        receiver_name as person_name,
        buyer_nick,
        contact_mobile as phone,
        contact_tel as alt_phone,
        -- the buyer's Alipay login: an e-mail or a phone, often masked (then it
        -- normalises to null)
        case when alipay_account like '%@%' then alipay_account end as alipay_email,
        case when alipay_account not like '%@%' then alipay_account end as alipay_phone
    from {{ ref('stg_tmall__orders') }}
    where {{ is_changed_record('tmall_orders', 'order_id') }}
),

pos as (
    select
        'pos_transactions' as source,
        receipt_key as record_key,
        sold_at as seen_at,
        member_card,
        phone
    from {{ ref('stg_pos__receipt_lines') }}
    where (member_card is not null or phone is not null)
        and {{ is_changed_record('pos_transactions', 'receipt_key') }}
),

loyalty as (
    select
        'loyalty_members' as source,
        card_no as record_key,
        {{ identity_local_day_start('joined_on') }} as seen_at,
        member_name as person_name,
        card_no,
        phone,
        email
    from {{ ref('stg_loyalty__members') }}
    where {{ is_changed_record('loyalty_members', 'card_no') }}
),

social as (
    select
        'social_events' as source,
        {{ social_record_key('platform', 'handle') }} as record_key,
        event_at as seen_at,
        platform,
        handle,
        linked_email,
        linked_phone
    from {{ ref('stg_social__events') }}
    where {{ is_changed_record('social_events', social_record_key('platform', 'handle')) }}
),

generic as (
    -- a mapped export's order: its contacts, and its customer key (through the export's
    -- customer file to the person behind it, when the file says: Olist's unique id)
    select
        'generic_orders' as source,
        o.order_key as record_key,
        o.ordered_at as seen_at,
        coalesce(o.customer_name, c.customer_name) as person_name,
        coalesce(o.email, c.email) as email,
        coalesce(o.phone, c.phone) as phone,
        case
            when coalesce(c.person_ref, o.customer_ref) is not null
                then {{ dbt.concat(
                    ['o.export_name', "':'", 'coalesce(c.person_ref, o.customer_ref)']
                ) }}
        end as merchant_customer
    from {{ ref('stg_generic__orders') }} as o
    left join {{ ref('stg_generic__customers') }} as c
        on c.customer_key = {{ dbt.concat(['o.export_name', "':'", 'o.customer_ref']) }}
    where {{ is_changed_record('generic_orders', 'o.order_key') }}
),

service as (
    select
        'service_interactions' as source,
        interaction_id as record_key,
        started_at as seen_at,
        customer_email,
        customer_phone
    from {{ ref('stg_service__interactions') }}
    where {{ is_changed_record('service_interactions', 'interaction_id') }}
),

{%- set null_text = "cast(null as " ~ dbt.type_string() ~ ")" %}

raw_identifiers as (
    {#- (source, record_key, seen_at, person_name, identifier_type, raw_value, raw_platform) -#}
    {%- set parts = [
        ('shopify', 'person_name', 'email', 'email', null_text),
        ('shopify', 'person_name', 'phone', 'phone', null_text),
        ('tmall', 'person_name', 'phone', 'phone', null_text),
        ('tmall', 'person_name', 'phone', 'alt_phone', null_text),
        ('tmall', 'person_name', 'tmall_nick', 'buyer_nick', null_text),
        ('tmall', 'person_name', 'email', 'alipay_email', null_text),
        ('tmall', 'person_name', 'phone', 'alipay_phone', null_text),
        ('pos', null_text, 'loyalty_card', 'member_card', null_text),
        ('pos', null_text, 'phone', 'phone', null_text),
        ('loyalty', 'person_name', 'loyalty_card', 'card_no', null_text),
        ('loyalty', 'person_name', 'phone', 'phone', null_text),
        ('loyalty', 'person_name', 'email', 'email', null_text),
        ('social', null_text, 'social_handle', 'handle', 'platform'),
        ('social', null_text, 'email', 'linked_email', null_text),
        ('social', null_text, 'phone', 'linked_phone', null_text),
        ('generic', 'person_name', 'email', 'email', null_text),
        ('generic', 'person_name', 'phone', 'phone', null_text),
        ('generic', 'person_name', 'merchant_customer', 'merchant_customer', null_text),
        ('service', null_text, 'email', 'customer_email', null_text),
        ('service', null_text, 'phone', 'customer_phone', null_text),
    ] %}
    {%- for cte, name_col, identifier_type, value_col, platform_col in parts %}
    select
        source,
        record_key,
        {{ identity_timestamp('seen_at') }} as seen_at,
        {{ name_col }} as person_name,
        '{{ identifier_type }}' as identifier_type,
        {{ value_col }} as raw_value,
        {{ platform_col }} as raw_platform
    from {{ cte }}
    where {{ value_col }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

raw_grouped as (
    -- one row per distinct raw value of a record first: social events and POS lines repeat
    -- the same identifiers many times, and normalising is the expensive part
    select
        source,
        record_key,
        identifier_type,
        raw_value,
        raw_platform,
        max(person_name) as person_name,
        min(seen_at) as first_seen_at,
        max(seen_at) as last_seen_at
    from raw_identifiers
    group by source, record_key, identifier_type, raw_value, raw_platform
),

normalised as (
    select
        source,
        record_key,
        identifier_type,
        case identifier_type
            when 'email' then {{ normalise_email('raw_value') }}
            when 'phone' then {{ normalise_phone('raw_value') }}
            when 'loyalty_card' then {{ normalise_loyalty_card('raw_value') }}
            when 'tmall_nick' then {{ normalise_tmall_nick('raw_value') }}
            when 'merchant_customer' then {{ normalise_merchant_customer('raw_value') }}
            when 'social_handle' then {{ normalise_handle('raw_platform', 'raw_value') }}
        end as identifier_value,
        person_name,
        first_seen_at,
        last_seen_at
    from raw_grouped
),

grouped as (
    select
        source,
        record_key,
        identifier_type,
        identifier_value,
        -- one name per record in every source that has names; max() only collapses repeats
        max({{ normalise_person_name('person_name') }}) as person_name,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from normalised
    where identifier_value is not null
    group by source, record_key, identifier_type, identifier_value
),

identifiers as (
    select
        grouped.*,
        -- the change feed's watermark (docs/incremental.md)
        {{ identity_loaded_through() }} as _loaded_through
    from grouped
)

{% if is_incremental() %}

{{ rows_of_changed_keys('identifiers', 'changed_records', ['source', 'record_key'], ['source', 'record_key']) }}

{% else %}

select * from identifiers

{% endif %}
