-- One row per loyalty member card (会员卡号); a re-delivered card keeps its latest row.

with

source as (

    select * from {{ source('raw', 'loyalty_members') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by {{ clean_text('card_no') }}
            order by {{ latest_delivery_first() }}
        ) as row_rank
    from source

),

renamed as (

    select
        {{ clean_text('card_no') }} as card_no,

        {{ clean_text('member_name') }} as member_name,
        case
            when upper(trim(gender)) in ('F', 'FEMALE', '女') then 'F'
            when upper(trim(gender)) in ('M', 'MALE', '男') then 'M'
        end as gender,
        birthday,
        {{ clean_text('occupation') }} as occupation,
        {{ clean_text('city') }} as city,
        {{ clean_excel_text('phone') }} as phone,
        {{ clean_text('email') }} as email,
        joined_on,
        marketing_consent,

        _load_id,
        _source_file,
        _source_line,
        _delivery_date,
        _loaded_at

    from ranked
    where row_rank = 1

)

select * from renamed
