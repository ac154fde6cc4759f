{#- The identity graph: one row per (record, identifier) edge, both sides as stable
    integer keys (identity_key) so that the label-propagation rounds in
    int_identifiers_linked join and group on small keys. Every identifying record's
    identifiers are here, also those no other record carries (int_identifiers_linked
    links through the identifiers carried by two or more records), so a record's edges
    depend on the record alone and on the block status of its identifiers.

    Blocked identifiers make no edge, with one exception: a phone or e-mail blocked as
    shared (seen with several names: a family phone) still links the records that also
    agree on the normalised name, through a compound identifier of type 'phone+name' /
    'email+name' and value '<phone>|<name>'. A couple sharing a phone stays two customers,
    and each spouse's named orders still join up; records without a name (POS receipts,
    service contacts) do not link through a shared phone at all.

    Kept by record (delete+insert on (source, record_key); macros/incremental/change_feed.sql):
    a night rewrites the records it touched and every carrier of a value whose block status
    is not the one its stored edges applied (a phone that became shared, or stopped being
    shared). base_identifier_type / base_identifier_value keep the value an edge comes from,
    so that the comparison needs no parsing of compound values. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source', 'record_key'],
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('identifier_id') }}",
    )
}}
-- the change feed's refs inside is_incremental(), declared for dbt's parser:
-- depends_on: {{ ref('stg_generic__orders') }}

with

{% if is_incremental() -%}
changed_records as (
    {{ identity_changed_records() }}
),

status_changed as (
    -- stored as a plain edge, blocked now (matched on the edge's integer key, so that the
    -- scan of the stored edges reads one column)
    select distinct e.base_identifier_type, e.base_identifier_value
    from {{ this }} as e
    inner join (
        select {{ identity_identifier_id('identifier_type', 'identifier_value') }} as identifier_id
        from {{ ref('int_identifiers_blocked') }}
    ) as b
        on e.identifier_id = b.identifier_id
    where e.identifier_type = e.base_identifier_type
    union
    -- stored as compound edges (shared), not shared now
    select distinct e.base_identifier_type, e.base_identifier_value
    from {{ this }} as e
    left join {{ ref('int_identifiers_blocked') }} as b
        on e.base_identifier_type = b.identifier_type
        and e.base_identifier_value = b.identifier_value
        and b.block_rule = 'shared'
    where e.identifier_type <> e.base_identifier_type
        and b.identifier_value is null
),

affected_records as (
    select source, record_key from changed_records
    union
    select n.source, n.record_key
    from {{ ref('int_identifiers_normalised') }} as n
    inner join status_changed as s
        on n.identifier_type = s.base_identifier_type
        and n.identifier_value = s.base_identifier_value
),

-- the affected records' identifiers, on their own before any other join
affected_identifiers as {{ materialized_cte() }} (
    select n.source, n.record_key, n.identifier_type, n.identifier_value, n.person_name
    from {{ ref('int_identifiers_normalised') }} as n
    inner join affected_records as a
        on n.source = a.source
        and n.record_key = a.record_key
),
{%- endif %}

normalised as (
    select
        n.source,
        n.record_key,
        n.identifier_type,
        n.identifier_value,
        n.person_name,
        b.block_rule
        {%- if is_incremental() %}
    from affected_identifiers as n
    {%- else %}
    from {{ ref('int_identifiers_normalised') }} as n
        {%- endif %}
    left join {{ ref('int_identifiers_blocked') }} as b
        on n.identifier_type = b.identifier_type
        and n.identifier_value = b.identifier_value
),

graph_identifiers as (
    select
        source,
        record_key,
        identifier_type,
        identifier_value,
        identifier_type as base_identifier_type,
        identifier_value as base_identifier_value
    from normalised
    where block_rule is null

    union all

    select
        source,
        record_key,
        {{ dbt.concat(['identifier_type', "'+name'"]) }} as identifier_type,
        {{ dbt.concat(['identifier_value', "'|'", 'person_name']) }} as identifier_value,
        identifier_type as base_identifier_type,
        identifier_value as base_identifier_value
    from normalised
    where block_rule = 'shared'
        and person_name is not null
),

final as (
    select
        r.record_id,
        g.source,
        g.record_key,
        {{ identity_identifier_id('g.identifier_type', 'g.identifier_value') }} as identifier_id,
        g.identifier_type,
        g.identifier_value,
        g.base_identifier_type,
        g.base_identifier_value,
        -- the change feed's watermark (docs/incremental.md)
        {{ identity_loaded_through() }} as _loaded_through
    from graph_identifiers as g
    -- only identifying records are nodes of the graph
    inner join {{ ref('int_identity_records_unioned') }} as r
        on g.source = r.source
        and g.record_key = r.record_key
)

{% if is_incremental() %}

{{ rows_of_changed_keys('final', 'affected_records', ['source', 'record_key'], ['source', 'record_key']) }}

{% else %}

select * from final

{% endif %}
