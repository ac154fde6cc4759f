-- One row per customer of a mapped export's customer file (generic_orders rows from
-- customer files), keyed by (export_name, customer_ref); a re-delivered customer keeps
-- its latest row.

with

source as (

    select * from {{ source('generic', 'orders') }}
    where record_type = 'customer'

),

keyed as (

    select
        *,
        {{ dbt.concat(['export_name', "':'", clean_text('customer_ref')]) }} as customer_key
    from source
    where {{ clean_text('customer_ref') }} is not null

),

ranked as (

    select
        *,
        row_number() over (
            partition by customer_key order by {{ latest_delivery_first() }}
        ) as row_rank
    from keyed

),

renamed as (

    select
        customer_key,
        export_name,
        {{ clean_text('customer_ref') }} as customer_ref,
        {{ clean_text('person_ref') }} as person_ref,
        {{ clean_text('email') }} as email,
        {{ clean_excel_text('phone') }} as phone,
        {{ clean_text('customer_name') }} as customer_name,
        {{ clean_text('city') }} as city,
        {{ clean_text('region') }} as region,
        {{ clean_text('country') }} as country,
        {{ clean_excel_text('zip') }} as zip,

        _load_id,
        _source_file,
        _source_line,
        _delivery_date,
        _loaded_at

    from ranked
    where row_rank = 1

)

select * from renamed
