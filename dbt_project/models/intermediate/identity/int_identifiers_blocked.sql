{#- One row per normalised identifier value that must not link records, with the rule and
    reason. Two rules, after the identity graphs of Segment Unify and Hightouch:
    * blocklist: the value is in (or matches a LIKE pattern of) seed identifier_blocklist;
    * shared: a phone or e-mail seen with more distinct normalised person names than var
      identity_max_names_per_phone / identity_max_names_per_email (a family or shop phone,
      a shared mailbox). Loyalty cards, handles, Tmall nicks and mapped exports' customer
      keys are account identifiers and never blocked by this rule. A shared value still links records that agree on the
      name (int_identity_edges), a blocklisted one never links.
    A value caught by both rules is reported once, with the blocklist reason.

    Kept by value (delete+insert on (identifier_type, identifier_value);
    macros/incremental/change_feed.sql): only the records a night touched can change a
    value's counts, so a night recounts the values those records carry now and every value
    blocked so far (a touched record may have dropped one: only a blocked value can change
    status by losing a name), over every record that carries them. A recounted value no
    longer blocked gets a tombstone. The blocklist seed and the two vars are in the model's
    fingerprint: changing them rebuilds it. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['identifier_type', 'identifier_value'],
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('block_rule') }}",
    )
}}
-- the change feed's refs inside is_incremental(), declared for dbt's parser:
-- depends_on: {{ ref('stg_generic__orders') }}

with

{% if is_incremental() -%}
changed_records as (
    {{ identity_changed_records(stored_records=false) }}
),

changed_values as (
    select distinct n.identifier_type, n.identifier_value
    from {{ ref('int_identifiers_normalised') }} as n
    inner join changed_records as c
        on n.source = c.source
        and n.record_key = c.record_key
    union
    -- (only on a night that touched a record: a re-run with nothing new writes nothing)
    select identifier_type, identifier_value from {{ this }}
    where exists (select 1 from changed_records)
),
{%- endif %}

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
    from {{ ref('int_identifiers_normalised') }} as n
    {%- if is_incremental() %}
    where exists (
        select 1 from changed_values as v
        where v.identifier_type = n.identifier_type
            and v.identifier_value = n.identifier_value
    )
    {%- endif %}
    group by identifier_type, identifier_value
),

identifier_types as (
    {%- set blockable_types = [
        'email', 'phone', 'loyalty_card', 'social_handle', 'tmall_nick', 'merchant_customer'
    ] %}
    {%- for identifier_type in blockable_types %}
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
            when t.identifier_type = 'merchant_customer'
                then {{ normalise_merchant_customer('b.value') }}
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
        {{ dbt.concat(["'shared: '", dbt.cast("name_count", dbt.type_string()), "' names'"]) }}
            as reason
    from identifiers
    where (identifier_type = 'phone' and name_count > {{ var('identity_max_names_per_phone') }})
        or (identifier_type = 'email' and name_count > {{ var('identity_max_names_per_email') }})
),

hits as (
    select
        identifier_type,
        identifier_value,
        'blocklist' as block_rule,
        reason
    from exact_hits
    union all
    select
        identifier_type,
        identifier_value,
        'blocklist' as block_rule,
        reason
    from like_hits
    union all
    select
        identifier_type,
        identifier_value,
        'shared' as block_rule,
        reason
    from shared
),

ranked as (
    select
        *,
        row_number() over (
            partition by identifier_type, identifier_value
            order by case when block_rule = 'blocklist' then 0 else 1 end, reason
        ) as rank_in_value
    from hits
),

final as (
    select
        r.identifier_type,
        r.identifier_value,
        r.block_rule,
        r.reason,
        i.record_count,
        i.name_count,
        -- the change feed's watermark (docs/incremental.md)
        {{ identity_loaded_through() }} as _loaded_through
    from ranked as r
    inner join identifiers as i
        on r.identifier_type = i.identifier_type
        and r.identifier_value = i.identifier_value
    where r.rank_in_value = 1
)

{% if is_incremental() %}

{{ rows_of_changed_keys(
    'final', 'changed_values', ['identifier_type', 'identifier_value'],
    ['identifier_type', 'identifier_value'],
) }}

{% else %}

select * from final

{% endif %}
