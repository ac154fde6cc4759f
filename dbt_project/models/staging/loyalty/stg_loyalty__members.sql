-- One row per loyalty member card (会员卡号); a re-delivered card keeps its latest row.
-- Kept by key (macros/incremental/change_feed.sql): a night re-ranks only the keys
-- with a raw row loaded since the last build, from all their raw rows, and replaces them.

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='card_no',
        on_schema_change='fail',
    )
}}

with

source as (

    select *
    from {{ raw_rows_of_changed_keys(
        source('loyalty', 'members'), clean_text('card_no')
    ) }} as changed

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
        _loaded_at,
        {{ loaded_through(source('loyalty', 'members')) }} as _loaded_through

    from ranked
    where row_rank = 1

)

select * from renamed
