-- One row per customer-service contact (call, email, chat); a re-delivered contact keeps
-- its latest row.

with

source as (

    select * from {{ source('raw', 'service_interactions') }}

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
        _loaded_at

    from ranked
    where row_rank = 1

)

select * from renamed
