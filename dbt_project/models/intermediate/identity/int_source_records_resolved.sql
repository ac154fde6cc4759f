{#- One row per identity record (source, record_key) with its resolved customer_id: the
    interface the orders and interactions marts join on. Every record has one; a record that
    links to nothing is its own customer.

    customer_id = 'C' + 16 hex digits of md5('<anchor source>:<anchor record_key>'), where
    the anchor is the cluster's earliest record by (first_seen_at, source, record_key). New
    records therefore keep an existing customer's id; when new data merges two clusters the
    older anchor's id survives and the other is retired (logged in customer_id_merges). -#}

select
    source,
    record_key,
    {{ identity_customer_id('anchor_source', 'anchor_record_key') }} as customer_id
from {{ ref('int_identifiers_linked') }}
