-- One row per social-media interaction event; the same event delivered twice (same
-- event_id, in one file or several) keeps its latest row.
-- Kept by key (macros/incremental/change_feed.sql): a night re-ranks only the keys
-- with a raw row loaded since the last build, from all their raw rows, and replaces them.

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_id',
        on_schema_change='fail',
    )
}}

with

source as (

    select *
    from {{ raw_rows_of_changed_keys(
        source('social', 'events'), clean_text('event_id')
    ) }} as changed

),

ranked as (

    select
        *,
        row_number() over (
            partition by {{ clean_text('event_id') }}
            order by {{ latest_delivery_first() }}
        ) as row_rank
    from source

),

renamed as (

    select
        {{ clean_text('event_id') }} as event_id,

        {{ clean_code('platform') }} as platform,
        {{ clean_text('handle') }} as handle,
        {{ clean_code('event_type') }} as event_type,
        event_at,
        {{ clean_text('text') }} as event_text,
        {{ clean_text('linked_email') }} as linked_email,
        {{ clean_excel_text('linked_phone') }} as linked_phone,
        {{ clean_text('mentioned_sku') }} as mentioned_sku,

        _load_id,
        _source_file,
        _source_line,
        _delivery_date,
        _loaded_at,
        {{ loaded_through(source('social', 'events')) }} as _loaded_through

    from ranked
    where row_rank = 1

)

select * from renamed
