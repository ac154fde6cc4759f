{#- The customers' raw personal data, for the few who may see it (marketing's contact
    lists, a service desk). Restricted: never served to BI, never in the segment
    exports (docs/privacy.md). -#}

select
    customer_id,
    display_name,
    primary_email,
    primary_phone,
    birthday,
    card_no,
    marketing_consent
from {{ ref('int_customers_profiled') }}
