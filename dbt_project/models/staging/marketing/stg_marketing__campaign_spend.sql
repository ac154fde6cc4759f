-- One row per spend day, marketing channel and campaign; a re-delivered day keeps its
-- latest row.

with

source as (

    select * from {{ source('marketing', 'campaign_spend') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by
                spend_date,
                {{ clean_code('marketing_channel') }},
                {{ clean_text('campaign') }}
            order by {{ latest_delivery_first() }}
        ) as row_rank
    from source

),

renamed as (

    select
        spend_date,
        {{ clean_code('marketing_channel') }} as marketing_channel,
        {{ clean_text('campaign') }} as campaign,
        spend,
        {{ clean_currency('currency', var('source_currencies')['campaign_spend']) }} as currency,

        _load_id,
        _source_file,
        _source_line,
        _delivery_date,
        _loaded_at

    from ranked
    where row_rank = 1

)

select * from renamed
