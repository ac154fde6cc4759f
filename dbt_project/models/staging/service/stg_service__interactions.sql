-- One row per customer-service contact (call, email, chat); a re-delivered contact keeps
-- its latest row.
-- Kept by key (macros/incremental/change_feed.sql): a night re-ranks only the keys
-- with a raw row loaded since the last build, from all their raw rows, and replaces them.

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='interaction_id',
        on_schema_change='fail',
    )
}}

with

source as (

    select *
    from {{ raw_rows_of_changed_keys(
        source('service', 'interactions'), clean_text('interaction_id')
    ) }} as changed

),

ranked as (

    select
        *,
        row_number() over (
            partition by {{ clean_text('interaction_id') }}
            order by {{ latest_delivery_first() }}
        ) as row_rank
    from source

),

renamed as (

    select
        {{ clean_text('interaction_id') }} as interaction_id,

        {{ clean_code('service_channel') }} as service_channel,
        started_at,
        {{ clean_text('customer_email') }} as customer_email,
        {{ clean_excel_text('customer_phone') }} as customer_phone,
        {{ clean_text('topic') }} as topic,
        {{ clean_code('outcome') }} as outcome,
        csat,
        nps,
        {{ clean_text('agent_id') }} as agent_id,

        _load_id,
        _source_file,
        _source_line,
        _delivery_date,
        _loaded_at,
        {{ loaded_through(source('service', 'interactions')) }} as _loaded_through

    from ranked
    where row_rank = 1

)

select * from renamed
