-- One row per customer interaction: social-media events, customer-service contacts, and
-- store visits (one per POS receipt whose customer identified themselves). customer_id is
-- null when a social or service record resolved to no customer.
--
-- Incremental by occurred_date (delete+insert; macros in
-- macros/incremental/incremental_by_date.sql): an incremental run rewrites every affected
-- occurred_date with all of that day's interactions computed from the current upstream
-- (the orders mart is already up to date: it runs first). Affected dates are
--   (a) the occurred_date, now and as stored, of every social event, service contact
--       and POS receipt delivered in the run's window (vars window_start / window_end;
--       unset = every delivery): new records and corrected re-deliveries;
--   (b) the occurred_date, now and as stored, of every interaction whose columns that
--       come from other tables differ from {{ this }}, whatever the delivery date:
--       customer_id (identity merges and splits), and the store visits, which are
--       derived from the orders mart (store_id, customer_id, occurred_at, outcome; a
--       receipt becomes a visit when its customer gets identified, and stops being one
--       when the identification goes). An interaction that appears or disappears counts
--       as changed too.
-- A new column derived from another table (orders included) must join the (b) comparison
-- (changed_interactions below), or incremental runs keep its stale value on rows no
-- delivery touches. A change of a var the model reads needs --full-refresh.
-- The refs inside the is_incremental() block must be declared for dbt's parser:
-- depends_on: {{ ref('stg_pos__receipt_lines') }}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='occurred_date',
        on_schema_change='fail',
        post_hook="{{ delete_incremental_markers('interaction_id') }}",
    )
}}

with

social_events as (

    select * from {{ ref('stg_social__events') }}

),

service_interactions as (

    select * from {{ ref('stg_service__interactions') }}

),

orders as (

    select * from {{ ref('orders') }}

),

resolved_records as (

    select source, record_key, customer_id
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
        and resolved_records.record_key = service_interactions.interaction_id

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
        product_sku
    from unioned

)

{% if is_incremental() %}

, delivered_interactions as (

    -- (a) interactions whose own record landed in the window
    select {{ dbt.concat(["'social_events:'", 'event_id']) }} as interaction_id
    from social_events
    where {{ in_delivery_window('_delivery_date') }}
    union
    select {{ dbt.concat(["'service_interactions:'", 'interaction_id']) }} as interaction_id
    from service_interactions
    where {{ in_delivery_window('_delivery_date') }}
    union
    select {{ dbt.concat(["'pos_transactions:'", 'order_key']) }} as interaction_id
    from ({{ delivered_order_keys(sources=['pos_transactions']) }}) as delivered_receipts

),

changed_interactions as (

    -- (b) interactions whose attributes from other tables changed since they were stored
    {{ changed_rows('final', 'interaction_id', 'occurred_date', [
        'customer_id', 'store_id', 'occurred_at', 'outcome',
    ]) }}

),

affected_dates as (

    {{ dates_of_delivered_keys(
        'final', 'delivered_interactions', ['interaction_id'], 'occurred_date'
    ) }}
    union
    select stored_date as affected_date from changed_interactions
    union
    select fresh_date as affected_date from changed_interactions

)

{{ rows_of_affected_dates('final', 'affected_dates', 'occurred_date') }}

{% else %}

select * from final

{% endif %}
