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

    Records with a single identifier (most orders, receipts, contacts) cannot carry a
    label from one identifier to another, so only records with two or more identifiers
    ("bridges") take part in the rounds; the others read their identifier's final label.
    A round crosses one bridge, so the rounds needed equal the longest chain of bridges
    between a component's anchor and its identifiers; the singular test
    assert_identity_graph_converged fails if var identity_max_iterations was too small. -#}

{%- set rounds = var('identity_max_iterations') | int %}

with

edges as (
    select record_id, identifier_id, record_identifiers
    from {{ ref('int_identity_edges') }}
),

bridges as (
    select record_id, identifier_id
    from {{ ref('int_identity_edges') }}
    where record_identifiers > 1
),

initial_label as (
    -- includes the single-identifier records: an anchor can be one of them
    select identifier_id, min(record_id) as label
    from edges
    group by identifier_id
),

{%- for i in range(1, rounds + 1) %}

record_label_{{ i }} as (
    select b.record_id, min(l.label) as label
    from bridges as b
    inner join {{ 'initial_label' if i == 1 else 'identifier_label_' ~ (i - 1) }} as l
        on b.identifier_id = l.identifier_id
    group by b.record_id
),

identifier_label_{{ i }} as (
    -- a bridge's label already includes its identifiers' previous labels, so this minimum
    -- never goes up; identifiers without bridges keep their initial label (below)
    select b.identifier_id, min(r.label) as label
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
    select e.record_id, min(l.label) as label
    from edges as e
    inner join final_identifier_label as l on e.identifier_id = l.identifier_id
    group by e.record_id
),

records as (
    select source, record_key, record_id, first_seen_at
    from {{ ref('int_identity_records_unioned') }}
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
    select component_id, source as anchor_source, record_key as anchor_record_key
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
)

select
    l.source,
    l.record_key,
    l.record_id,
    l.component_id,
    a.anchor_source,
    a.anchor_record_key
from labelled as l
inner join anchors as a on l.component_id = a.component_id
