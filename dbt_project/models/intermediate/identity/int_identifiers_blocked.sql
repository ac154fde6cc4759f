{#- One row per normalised identifier value that must not link records, with the rule and
    reason. Two rules, after the identity graphs of Segment Unify and Hightouch:
    * blocklist: the value is in (or matches a LIKE pattern of) seed identifier_blocklist;
    * shared: a phone or e-mail seen with more distinct normalised person names than var
      identity_max_names_per_phone / identity_max_names_per_email (a family or shop phone,
      a shared mailbox). Loyalty cards, handles, Tmall nicks and mapped exports' customer
      keys are account identifiers and never blocked by this rule. A shared value still links records that agree on the
      name (int_identity_edges), a blocklisted one never links.
    A value caught by both rules is reported once, with the blocklist reason. -#}

with

identifiers as (
    select
        identifier_type,
        identifier_value,
        -- what exact blocklist values are compared with: a handle without its platform,
        -- an export's customer key without its export name
        case
            when identifier_type in ('social_handle', 'merchant_customer')
                then {{ dbt.split_part('identifier_value', "':'", 2) }}
            else identifier_value
        end as match_value,
        count(*) as record_count,
        count(distinct person_name) as name_count
    from {{ ref('int_identifiers_normalised') }}
    group by identifier_type, identifier_value
),

identifier_types as (
    {%- for identifier_type in ['email', 'phone', 'loyalty_card', 'social_handle', 'tmall_nick', 'merchant_customer'] %}
    select '{{ identifier_type }}' as identifier_type
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
),

blocklist as (
    -- exact values normalised with their type's rule ('*' rows once per type), so the
    -- seed can hold values as people type them
    select
        t.identifier_type,
        b.match_type,
        b.reason,
        case
            when b.match_type = 'like' then b.value
            when t.identifier_type = 'email' then {{ normalise_email('b.value') }}
            when t.identifier_type = 'phone' then {{ normalise_phone('b.value') }}
            when t.identifier_type = 'loyalty_card' then {{ normalise_loyalty_card('b.value') }}
            when t.identifier_type = 'tmall_nick' then {{ normalise_tmall_nick('b.value') }}
            when t.identifier_type = 'merchant_customer' then {{ normalise_merchant_customer('b.value') }}
            -- a handle is compared without its '<platform>:' prefix: it blocks on every platform
            when t.identifier_type = 'social_handle'
                then {{ dbt.split_part(normalise_handle("'any'", 'b.value'), "':'", 2) }}
        end as value
    from {{ ref('identifier_blocklist') }} as b
    inner join identifier_types as t
        on b.identifier_type = t.identifier_type or b.identifier_type = '*'
),

exact_hits as (
    select
        i.identifier_type,
        i.identifier_value,
        b.reason
    from identifiers as i
    inner join blocklist as b
        on i.identifier_type = b.identifier_type
        and i.match_value = b.value
    where b.match_type = 'exact'
),

like_hits as (
    select
        i.identifier_type,
        i.identifier_value,
        b.reason
    from identifiers as i
    inner join blocklist as b
        on i.identifier_type = b.identifier_type
        and i.identifier_value like b.value
    where b.match_type = 'like'
),

shared as (
    select
        identifier_type,
        identifier_value,
        {{ dbt.concat(["'shared: '", dbt.cast("name_count", dbt.type_string()), "' names'"]) }} as reason
    from identifiers
    where (identifier_type = 'phone' and name_count > {{ var('identity_max_names_per_phone') }})
        or (identifier_type = 'email' and name_count > {{ var('identity_max_names_per_email') }})
),

hits as (
    select identifier_type, identifier_value, 'blocklist' as block_rule, reason from exact_hits
    union all
    select identifier_type, identifier_value, 'blocklist' as block_rule, reason from like_hits
    union all
    select identifier_type, identifier_value, 'shared' as block_rule, reason from shared
),

ranked as (
    select
        *,
        row_number() over (
            partition by identifier_type, identifier_value
            order by case when block_rule = 'blocklist' then 0 else 1 end, reason
        ) as rank_in_value
    from hits
)

select
    r.identifier_type,
    r.identifier_value,
    r.block_rule,
    r.reason,
    i.record_count,
    i.name_count
from ranked as r
inner join identifiers as i
    on r.identifier_type = i.identifier_type
    and r.identifier_value = i.identifier_value
where r.rank_in_value = 1
