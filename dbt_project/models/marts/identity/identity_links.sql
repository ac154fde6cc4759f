{#- One row per link of an identity record to its customer: the record, the normalised
    identifier (type + value) it shares with at least one other record of the same
    customer, and how many records carry that identifier. Records that link to nothing
    have no row. Restricted audit table (raw identifiers), schema identity.

    Kept by record like int_identifiers_linked (delete+insert on (source, record_key)): a
    night rewrites the records that model wrote after this one's _loaded_through (every
    carrier of an identifier whose count changed is among them) and deletes the touched
    records that are no longer in the graph. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source', 'record_key'],
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('identifier_type') }}",
    )
}}
-- the change feed's refs inside is_incremental(), declared for dbt's parser:
-- depends_on: {{ ref('stg_generic__orders') }}

with

{% if is_incremental() -%}
changed_records as (
    {{ identity_records_relinked() }}
),
{%- endif %}

-- the edges of the records linked (on a night, of the changed records only: the
-- identifier counts below then read one column of the other edges, not their values)
linked_edges as (
    select
        l.source,
        l.record_key,
        l.anchor_source,
        l.anchor_record_key,
        e.identifier_id,
        e.identifier_type,
        e.identifier_value
    from {{ ref('int_identity_edges') }} as e
    inner join {{ ref('int_identifiers_linked') }} as l on e.record_id = l.record_id
    {%- if is_incremental() %}
    inner join changed_records as c
        on l.source = c.source
        and l.record_key = c.record_key
    {%- endif %}
),

counted as (
    select
        identifier_id,
        count(*) as identifier_records
    from {{ ref('int_identity_edges') }}
    {%- if is_incremental() %}
    where identifier_id in (select identifier_id from linked_edges)
    {%- endif %}
    group by identifier_id
    having count(*) > 1
),

final as (
    select
        {{ identity_customer_id('e.anchor_source', 'e.anchor_record_key') }} as customer_id,
        e.source,
        e.record_key,
        e.identifier_type,
        e.identifier_value,
        c.identifier_records as linked_records,
        -- the change feed's watermark (docs/incremental.md)
        {{ identity_loaded_through() }} as _loaded_through
    from linked_edges as e
    inner join counted as c on e.identifier_id = c.identifier_id
)

{% if is_incremental() %}

{{ rows_of_changed_keys('final', 'changed_records', ['source', 'record_key'], ['source', 'record_key']) }}

{% else %}

select * from final

{% endif %}
