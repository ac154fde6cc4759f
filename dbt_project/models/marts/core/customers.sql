{#- One row per resolved customer for BI: int_customers_profiled without raw personal data.
    E-mail and phone become salted hashes (join keys for marketing tools that hold the
    same salt) and masked contacts; name, birthday and card number stay in
    restricted.customer_pii.
    An as-of mart over the per-customer base int_customers_profiled (rebuilt every night:
    the age moves with the run date). -#}

{%- set as_of = as_of_date() %}

select
    customer_id,
    gender,
    cast(extract(month from birthday) as {{ dbt.type_int() }}) as birth_month,
    {{ age_band('profiles.birthday', 'run_date.as_of_date') }} as age_band,
    occupation,
    city,
    {{ pii_hash('primary_email') }} as email_sha256,
    {{ mask_email('primary_email') }} as email_masked,
    {{ pii_hash('primary_phone') }} as phone_sha256,
    {{ mask_phone('primary_phone') }} as phone_masked,
    first_seen_at,
    first_seen_channel,
    last_seen_at,
    is_member,
    marketing_consent,
    record_count,
    sources
from {{ ref('int_customers_profiled') }} as profiles
cross join (select {{ as_of }} as as_of_date) as run_date
