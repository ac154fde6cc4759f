{#- One row per retired customer_id: an id that named a cluster in an earlier run and no
    longer names any record, because new data merged its cluster into an older one (the
    older anchor's id survives). customer_id is the live id to use instead, kept current
    when a survivor is itself merged later (A -> B, then B -> C: A's row is updated to C,
    merged_into_customer_id stays B).

    Previous-run state comes from customer_id_assignments (previous_customer_id of the
    records whose id changed); this model picks up every change assigned after its own
    latest merged_at, so a run that skipped it is caught up by the next one. An id whose
    records moved to several clusters (a merge and a split at once) points to the cluster
    that received most of them. Ids that lose records but still name others (a split, e.g.
    after a phone became blocked as shared) are not retirements and not listed here;
    customer_id_assignments has those changes record by record. -#}
{{
    config(
        materialized='incremental',
        unique_key='retired_customer_id',
        incremental_strategy='delete+insert',
        full_refresh=false,
    )
}}

with

changes as (
    select
        previous_customer_id,
        customer_id,
        assigned_at
    from {{ ref('customer_id_assignments') }}
    where previous_customer_id is not null
    {%- if is_incremental() %}
        and assigned_at > (
            select coalesce(max(merged_at), {{ identity_timestamp("'1900-01-01 00:00:00+00:00'") }})
            from {{ this }}
        )
    {%- endif %}
),

live_ids as (
    select distinct customer_id
    from {{ ref('int_source_records_resolved') }}
),

moves as (
    select
        c.previous_customer_id as retired_customer_id,
        c.customer_id,
        max(c.assigned_at) as merged_at,
        count(*) as records_moved
    from changes as c
    left join live_ids as l on c.previous_customer_id = l.customer_id
    where l.customer_id is null
    group by c.previous_customer_id, c.customer_id
),

new_merges as (
    select
        retired_customer_id,
        customer_id,
        customer_id as merged_into_customer_id,
        merged_at,
        records_moved
    from (
        select
            *,
            row_number() over (
                partition by retired_customer_id
                order by records_moved desc, customer_id asc
            ) as rank_in_retired
        from moves
    ) as ranked
    where rank_in_retired = 1
)

select * from new_merges

{%- if is_incremental() %}

union all

-- earlier merges into an id retired now follow it to the new survivor
select
    m.retired_customer_id,
    n.customer_id,
    m.merged_into_customer_id,
    m.merged_at,
    m.records_moved
from {{ this }} as m
inner join new_merges as n on m.customer_id = n.retired_customer_id
where m.retired_customer_id not in (select retired_customer_id from new_merges)

{%- endif %}
