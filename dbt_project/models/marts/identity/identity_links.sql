{#- One row per link of an identity record to its customer: the record, the normalised
    identifier (type + value) it shares with at least one other record of the same
    customer, and how many records carry that identifier. Records that link to nothing
    have no row. Restricted audit table (raw identifiers), schema identity. -#}

select
    {{ identity_customer_id('l.anchor_source', 'l.anchor_record_key') }} as customer_id,
    l.source,
    l.record_key,
    e.identifier_type,
    e.identifier_value,
    e.identifier_records as linked_records
from {{ ref('int_identity_edges') }} as e
inner join {{ ref('int_identifiers_linked') }} as l on e.record_id = l.record_id
