{#- Audience: one row per customer whose birthday falls in the run date's month and who
    consented to marketing (customers.marketing_consent true). Only the birthday month
    is carried, not the birthday. -#}

{%- set as_of = as_of_date() %}

select
    customers.customer_id,
    {{ as_of }} as as_of_date,
    customers.birth_month as birthday_month,
    customers.marketing_consent
from {{ ref('customers') }} as customers
where customers.marketing_consent
    and customers.birth_month = extract(month from {{ as_of }})
