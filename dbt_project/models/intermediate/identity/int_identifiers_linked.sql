{#- One row per identity record with the cluster (connected component of the record -
    identifier graph, blocked identifiers removed) it belongs to.

    Connected components by label propagation, unrolled into var identity_max_iterations
    rounds with Jinja so the SQL is plain joins and GROUP BYs on every engine (no recursive
    CTE). Labels are record_ids and propagate the minimum: an identifier starts with the
    smallest record_id of its records; each round a record takes the smallest label of
    its identifiers, then an identifier the smallest label of its records. After enough
    rounds every record carries the smallest record_id of its component (component_id).
    The component's anchor, which names the customer, is its earliest record by
    (first_seen_at, source, record_key): chosen apart from the label, so labels can be
    stable keys that do not depend on the other records.

    Only identifiers carried by two or more records link anything. Records with a single
    such identifier (most orders, receipts, contacts) cannot carry a label from one
    identifier to another, so only records with two or more ("bridges") take part in the
    rounds; the others read their identifier's final label. A round crosses one bridge,
    so the rounds needed equal the longest chain of bridges between a component's anchor
    and its identifiers; the singular test assert_identity_graph_converged fails if var
    identity_max_iterations was too small.

    Kept by record, recomputed over the affected set only (delete+insert on (source,
    record_key); docs/incremental.md): the records whose edges or first_seen_at may have
    changed (touched by the night, or rewritten by int_identity_edges after this model's
    _loaded_through), every record carrying one of their identifiers, and every record of
    those records' previous components. No edge leaves that set: an edge of any other
    record is unchanged, so it linked the same records before, into one of those previous
    components. The set is therefore a union of whole components, old and new, and the
    labels and anchors computed on it are those of the whole graph. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source', 'record_key'],
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('record_id') }}",
    )
}}
-- the change feed's refs inside is_incremental(), declared for dbt's parser:
-- depends_on: {{ ref('stg_generic__orders') }}

{%- set rounds = var('identity_max_iterations') | int %}
{#- Spark plans a CTE again wherever it is used: the affected set would be planned in each of
    the 2 x identity_max_iterations rounds, and the plan overflowed the driver's heap at XS.
    There a night recomputes every component (the same result). -#}
{%- set by_affected_set = is_incremental() and target.type != 'spark' %}

with

{% if by_affected_set -%}
changed_records as (
    {{ identity_changed_records() }}
),

rewritten as (
    select {{ identity_record_id('source', 'record_key') }} as record_id
    from changed_records
    union
    select record_id
    from {{ ref('int_identity_edges') }}
    where {{ after_watermark('_loaded_through') }}
),

carriers as (
    select record_id from rewritten
    union
    select e.record_id
    from {{ ref('int_identity_edges') }} as e
    where e.identifier_id in (
        select t.identifier_id
        from {{ ref('int_identity_edges') }} as t
        inner join rewritten as r on t.record_id = r.record_id
    )
),

affected as (
    select record_id from carriers
    union
    select record_id
    from {{ this }}
    where component_id in (
        select s.component_id
        from {{ this }} as s
        inner join carriers as c on s.record_id = c.record_id
    )
),
{%- endif %}

graph_edges as (
    select
        record_id,
        identifier_id
    from {{ ref('int_identity_edges') }}
    {%- if by_affected_set %}
    where record_id in (select record_id from affected)
    {%- endif %}
),

linking_edges as (
    select
        record_id,
        identifier_id
    from (
        select
            record_id,
            identifier_id,
            count(*) over (partition by identifier_id) as identifier_records
        from graph_edges
    ) as counted
    where identifier_records > 1
),

edges as (
    select
        record_id,
        identifier_id,
        count(*) over (partition by record_id) as record_identifiers
    from linking_edges
),

bridges as (
    select
        record_id,
        identifier_id
    from edges
    where record_identifiers > 1
),

initial_label as (
    -- includes the single-identifier records: the smallest record_id can be one of them
    select
        identifier_id,
        min(record_id) as label
    from edges
    group by identifier_id
),

{%- for i in range(1, rounds + 1) %}

record_label_{{ i }} as (
    select
        b.record_id,
        min(l.label) as label
    from bridges as b
    inner join {{ 'initial_label' if i == 1 else 'identifier_label_' ~ (i - 1) }} as l
        on b.identifier_id = l.identifier_id
    group by b.record_id
),

identifier_label_{{ i }} as (
    -- a bridge's label already includes its identifiers' previous labels, so this minimum
    -- never goes up; identifiers without bridges keep their initial label (below)
    select
        b.identifier_id,
        min(r.label) as label
    from bridges as b
    inner join record_label_{{ i }} as r on b.record_id = r.record_id
    group by b.identifier_id
),
{%- endfor %}

final_identifier_label as (
    select
        i.identifier_id,
        coalesce(l.label, i.label) as label
    from initial_label as i
    left join identifier_label_{{ rounds }} as l on i.identifier_id = l.identifier_id
),

final_record_label as (
    select
        e.record_id,
        min(l.label) as label
    from edges as e
    inner join final_identifier_label as l on e.identifier_id = l.identifier_id
    group by e.record_id
),

records as (
    select
        source,
        record_key,
        record_id,
        first_seen_at
    from {{ ref('int_identity_records_unioned') }}
    {%- if by_affected_set %}
    where record_id in (select record_id from affected)
    {%- endif %}
),

labelled as (
    select
        r.source,
        r.record_key,
        r.record_id,
        r.first_seen_at,
        coalesce(l.label, r.record_id) as component_id
    from records as r
    left join final_record_label as l on r.record_id = l.record_id
),

anchors as (
    select
        component_id,
        source as anchor_source,
        record_key as anchor_record_key
    from (
        select
            component_id,
            source,
            record_key,
            row_number() over (
                partition by component_id
                order by first_seen_at, source, record_key
            ) as rank_in_component
        from labelled
    ) as ranked
    where rank_in_component = 1
),

final as (
    select
        l.source,
        l.record_key,
        l.record_id,
        l.component_id,
        a.anchor_source,
        a.anchor_record_key,
        -- the change feed's watermark (docs/incremental.md)
        {{ identity_loaded_through() }} as _loaded_through
    from labelled as l
    inner join anchors as a on l.component_id = a.component_id
)

{% if is_incremental() %}

, affected_records as (
    -- the affected records as they are now, and as stored (a record no longer in the graph
    -- gets a tombstone)
    select source, record_key from records
    union
    select source, record_key from {{ this }}
    {%- if by_affected_set %}
    where record_id in (select record_id from affected)
    {%- endif %}
)

{{ rows_of_changed_keys('final', 'affected_records', ['source', 'record_key'], ['source', 'record_key']) }}

{% else %}

select * from final

{% endif %}
