-- One row per rate day and currency pair: units of to_currency per one unit of
-- from_currency. A re-delivered day keeps its latest row.

with

source as (

    select * from {{ source('finance', 'fx_rates') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by
                rate_date,
                {{ clean_currency('from_currency') }},
                {{ clean_currency('to_currency') }}
            order by {{ latest_delivery_first() }}
        ) as row_rank
    from source

),

renamed as (

    select
        rate_date,
        {{ clean_currency('from_currency') }} as from_currency,
        {{ clean_currency('to_currency') }} as to_currency,
        rate,

        _load_id,
        _source_file,
        _source_line,
        _delivery_date,
        _loaded_at

    from ranked
    where row_rank = 1

)

select * from renamed
