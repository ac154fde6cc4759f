-- One row per product SKU; a re-delivered SKU keeps its latest row.

with

source as (

    select * from {{ source('catalog', 'products') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by {{ clean_text('sku') }}
            order by {{ latest_delivery_first() }}
        ) as row_rank
    from source

),

renamed as (

    select
        {{ clean_text('sku') }} as sku,

        {{ clean_text('product_name') }} as product_name,
        {{ clean_text('category') }} as category,
        {{ clean_text('brand') }} as brand,
        list_price,
        unit_cost,
        {{ clean_currency('currency', var('source_currencies')['products']) }} as currency,

        _load_id,
        _source_file,
        _source_line,
        _delivery_date,
        _loaded_at

    from ranked
    where row_rank = 1

)

select * from renamed
