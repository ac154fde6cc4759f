-- One row per ECB rate day and currency: units of the currency per euro.

with

source as (

    select * from {{ source('ecb', 'reference_rates') }}

),

renamed as (

    select
        rate_date,
        upper(currency) as currency,
        units_per_eur,
        _source_file

    from source

)

select * from renamed
