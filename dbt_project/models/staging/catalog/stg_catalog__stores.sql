-- One row per physical store; a re-delivered store keeps its latest row.

with

source as (

    select * from {{ source('catalog', 'stores') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by {{ clean_text('store_id') }}
            order by {{ latest_delivery_first() }}
        ) as row_rank
    from source

),

renamed as (

    select
        {{ clean_text('store_id') }} as store_id,

        {{ clean_text('store_name') }} as store_name,
        {{ clean_text('city') }} as city,
        {{ clean_text('region') }} as region,

        _load_id,
        _source_file,
        _source_line,
        _delivery_date,
        _loaded_at

    from ranked
    where row_rank = 1

)

select * from renamed
