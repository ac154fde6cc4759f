{#- One row per resolved customer for BI: int_customers_profiled without raw personal data.
    E-mail and phone become salted hashes (join keys for marketing tools that hold the
    same salt) and masked contacts; name, birthday and card number stay in
    restricted.customer_pii.
    An as-of mart over the per-customer base int_customers_profiled (rebuilt every night:
    the age moves with the run date). -#}

{%- set as_of = as_of_date() %}

with

run_date as (

    select {{ as_of }} as as_of_date

),

profiles as (

    select * from {{ ref('int_customers_profiled') }}

)

select
    profiles.customer_id,
    profiles.gender,
    cast(extract(month from profiles.birthday) as {{ dbt.type_int() }}) as birth_month,
    {{ age_band('profiles.birthday', 'run_date.as_of_date') }} as age_band,
    profiles.occupation,
    profiles.city,
    {{ pii_hash('profiles.primary_email') }} as email_sha256,
    {{ mask_email('profiles.primary_email') }} as email_masked,
    {{ pii_hash('profiles.primary_phone') }} as phone_sha256,
    {{ mask_phone('profiles.primary_phone') }} as phone_masked,
    profiles.first_seen_at,
    profiles.first_seen_channel,
    profiles.last_seen_at,
    profiles.is_member,
    profiles.marketing_consent,
    profiles.record_count,
    profiles.sources
from profiles
cross join run_date
