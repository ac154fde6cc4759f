-- One row per social-media interaction event; the same event delivered twice (same
-- event_id, in one file or several) keeps its latest row.
-- A table, not a view: the dedup window over the append-only raw table is computed once
-- per run instead of once per test and per downstream model.

{{ config(materialized='table') }}

with

source as (

    select * from {{ source('raw', 'social_events') }}

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
        _loaded_at

    from ranked
    where row_rank = 1

)

select * from renamed
