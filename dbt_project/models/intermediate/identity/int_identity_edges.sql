{#- The identity graph: one row per (record, identifier) edge, both sides as stable
    integer keys (identity_key) so that the label-propagation rounds in
    int_identifiers_linked join and group on small keys. Only identifiers carried by two or more records can link anything, so the others
    are left out.

    Blocked identifiers make no edge, with one exception: a phone or e-mail blocked as
    shared (seen with several names: a family phone) still links the records that also
    agree on the normalised name, through a compound identifier of type 'phone+name' /
    'email+name' and value '<phone>|<name>'. A couple sharing a phone stays two customers,
    and each spouse's named orders still join up; records without a name (POS receipts,
    service contacts) do not link through a shared phone at all. -#}

with

normalised as (
    select
        n.source,
        n.record_key,
        n.identifier_type,
        n.identifier_value,
        n.person_name,
        b.block_rule
    from {{ ref('int_identifiers_normalised') }} as n
    left join {{ ref('int_identifiers_blocked') }} as b
        on n.identifier_type = b.identifier_type
        and n.identifier_value = b.identifier_value
),

unblocked as (
    select source, record_key, identifier_type, identifier_value
    from normalised
    where block_rule is null

    union all

    select
        source,
        record_key,
        {{ dbt.concat(['identifier_type', "'+name'"]) }} as identifier_type,
        {{ dbt.concat(['identifier_value', "'|'", 'person_name']) }} as identifier_value
    from normalised
    where block_rule = 'shared'
        and person_name is not null
),

edges as (
    select
        r.record_id,
        u.identifier_type,
        u.identifier_value,
        count(*) over (partition by u.identifier_type, u.identifier_value) as identifier_records
    from unblocked as u
    inner join {{ ref('int_identity_records_unioned') }} as r
        on u.source = r.source
        and u.record_key = r.record_key
)

select
    record_id,
    {{ identity_key(dbt.concat(['identifier_type', "':'", 'identifier_value'])) }} as identifier_id,
    identifier_type,
    identifier_value,
    identifier_records,
    -- records with two or more edges bridge identifiers (see int_identifiers_linked)
    count(*) over (partition by record_id) as record_identifiers
from edges
where identifier_records > 1
