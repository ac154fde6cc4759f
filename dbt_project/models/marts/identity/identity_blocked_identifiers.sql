{#- One row per normalised identifier value that identity resolution refuses to link on:
    its type, the rule (blocklist | shared), the reason, how many identity records carry it
    and with how many distinct names. Restricted audit table (raw identifiers), schema
    identity. -#}

select
    identifier_type,
    identifier_value,
    block_rule,
    reason,
    record_count,
    name_count
from {{ ref('int_identifiers_blocked') }}
