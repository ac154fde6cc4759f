-- What the model is: its YAML. Kept by key on interaction_id: a night rewrites the
-- interactions of the three change sets (a)-(c) of docs/incremental.md; a receipt that
-- stops being a store visit gets a tombstone, which deletes its stored visit. A new column
-- derived from another table must join one of them, or rows no delivery touches keep its
-- stale value.
-- dbt's parser must see the refs inside the is_incremental() block:
-- depends_on: {{ ref('customer_id_assignments') }}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='interaction_id',
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('source') }}",
    )
}}

with

{% if is_incremental() -%}
reassigned_records as (

    select source, record_key
    from {{ ref('customer_id_assignments') }}
    where {{ after_watermark('assigned_at', '_built_at') }}
        and source in ('social_events', 'service_interactions')

),

changed_interactions as (

    -- (a) records written to staging since this model last consumed it
    select {{ dbt.concat(["'social_events:'", 'event_id']) }} as interaction_id
    from {{ ref('stg_social__events') }}
    where {{ after_watermark('_loaded_through') }}
    union
    select {{ dbt.concat(["'service_interactions:'", 'interaction_id']) }} as interaction_id
    from {{ ref('stg_service__interactions') }}
    where {{ after_watermark('_loaded_through') }}
    union
    -- (b) records assigned another customer id since this model last wrote
    select {{ dbt.concat(["'social_events:'", 'social_events.event_id']) }} as interaction_id
    from {{ ref('stg_social__events') }} as social_events
    inner join reassigned_records
        on reassigned_records.source = 'social_events'
        and reassigned_records.record_key
            = {{ social_record_key('social_events.platform', 'social_events.handle') }}
    union
    select {{ dbt.concat(["'service_interactions:'", 'record_key']) }} as interaction_id
    from reassigned_records
    where source = 'service_interactions'
    union
    -- (c) store visits of the receipts the orders mart wrote since this model last wrote
    select {{ dbt.concat(["'pos_transactions:'", 'order_key']) }} as interaction_id
    from {{ ref('orders') }}
    where source = 'pos_transactions'
        and {{ after_watermark('_built_at', '_built_at') }}

),
{%- endif %}

-- On an incremental run each source is narrowed to the changed interactions first, so the
-- projection below (the contacts redacted from the content) runs on them only.
social_events as (

    select * from {{ ref('stg_social__events') }}
    {%- if is_incremental() %}
    where {{ dbt.concat(["'social_events:'", 'event_id']) }}
        in (select interaction_id from changed_interactions)
    {%- endif %}

),

service_interactions as (

    select * from {{ ref('stg_service__interactions') }}
    {%- if is_incremental() %}
    where {{ dbt.concat(["'service_interactions:'", 'interaction_id']) }}
        in (select interaction_id from changed_interactions)
    {%- endif %}

),

orders as (

    select * from {{ ref('orders') }}
    {%- if is_incremental() %}
    where {{ dbt.concat(["'pos_transactions:'", 'order_key']) }}
        in (select interaction_id from changed_interactions)
    {%- endif %}

),

resolved_records as (

    select
        source,
        record_key,
        customer_id
    from {{ ref('int_source_records_resolved') }}

),

social as (

    select
        {{ dbt.concat(["'social_events:'", 'social_events.event_id']) }} as interaction_id,
        'social_events' as source,
        'social' as channel,
        social_events.event_type as interaction_type,
        social_events.platform,
        cast(null as {{ dbt.type_string() }}) as store_id,
        resolved_records.customer_id,
        social_events.event_at as occurred_at,
        social_events.event_text as content,
        cast(null as {{ dbt.type_string() }}) as outcome,
        cast(null as {{ dbt.type_bigint() }}) as csat,
        cast(null as {{ dbt.type_bigint() }}) as nps,
        social_events.mentioned_sku as product_sku
    from social_events
    left join resolved_records
        on resolved_records.source = 'social_events'
        and resolved_records.record_key
        = {{ social_record_key('social_events.platform', 'social_events.handle') }}

),

service as (

    select
        {{ dbt.concat(["'service_interactions:'", 'service_interactions.interaction_id']) }}
            as interaction_id,
        'service_interactions' as source,
        case service_interactions.service_channel
            when 'call' then 'phone'
            else service_interactions.service_channel
        end as channel,
        'service_contact' as interaction_type,
        cast(null as {{ dbt.type_string() }}) as platform,
        cast(null as {{ dbt.type_string() }}) as store_id,
        resolved_records.customer_id,
        service_interactions.started_at as occurred_at,
        service_interactions.topic as content,
        service_interactions.outcome,
        service_interactions.csat,
        service_interactions.nps,
        cast(null as {{ dbt.type_string() }}) as product_sku
    from service_interactions
    left join resolved_records
        on resolved_records.source = 'service_interactions'
        and service_interactions.interaction_id = resolved_records.record_key

),

store_visits as (

    select
        {{ dbt.concat(["'pos_transactions:'", 'order_key']) }} as interaction_id,
        'pos_transactions' as source,
        'store' as channel,
        'store_visit' as interaction_type,
        cast(null as {{ dbt.type_string() }}) as platform,
        store_id,
        customer_id,
        ordered_at as occurred_at,
        cast(null as {{ dbt.type_string() }}) as content,
        case when net_amount < 0 then 'return' else 'purchase' end as outcome,
        cast(null as {{ dbt.type_bigint() }}) as csat,
        cast(null as {{ dbt.type_bigint() }}) as nps,
        cast(null as {{ dbt.type_string() }}) as product_sku
    from orders
    where source = 'pos_transactions'
        and customer_id is not null

),

unioned as (

    select * from social
    union all
    select * from service
    union all
    select * from store_visits

),

final as (

    select
        interaction_id,
        source,
        channel,
        interaction_type,
        platform,
        store_id,
        customer_id,
        occurred_at,
        {{ to_local_date('occurred_at', var('reporting_timezone')) }} as occurred_date,
        -- served to BI: contacts customers type into posts and notes do not go with it
        {{ redact_contacts('content') }} as content,
        outcome,
        csat,
        nps,
        product_sku,
        -- the change feed's watermarks (docs/incremental.md)
        {{ staging_loaded_through(['stg_social__events', 'stg_service__interactions']) }}
            as _loaded_through,
        {{ run_timestamp() }} as _built_at
    from unioned

)

{% if is_incremental() %}

{{ rows_of_changed_keys(
    'final', 'changed_interactions', ['interaction_id'], 'interaction_id',
    'changed_interactions.interaction_id',
) }}

{% else %}

select * from final

{% endif %}
