{{ config(meta={'dagster': {'ref': {'name': 'identity_links'}}}) }}

{#- No customer may be held together by a blocked identifier (placeholder or shared). -#}

select
    k.customer_id,
    k.source,
    k.record_key,
    k.identifier_type,
    k.identifier_value,
    b.reason
from {{ ref('identity_links') }} as k
inner join {{ ref('int_identifiers_blocked') }} as b
    on k.identifier_type = b.identifier_type
    and k.identifier_value = b.identifier_value
