{#- One row per identity record ever resolved: the customer_id it was last assigned and,
    when that changed, the id it had before. This is the warehouse's memory of earlier
    runs: int_source_records_resolved is rebuilt from scratch every run, so "what was this
    record's id last time" can only be read here, from {{ this }}, before this run's
    changes are written (incremental, delete+insert on (source, record_key)).
    Only new records and records whose id changed are written in an incremental run, and
    only the records int_source_records_resolved wrote after this model's _loaded_through
    are compared (a record whose id changed is among them). full_refresh is off: a --full-refresh must not wipe the history (drop the table by
    hand to really start over). -#}
{{
    config(
        materialized='incremental',
        unique_key=['source', 'record_key'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        full_refresh=false,
    )
}}

{%- set run_at = identity_timestamp("'" ~ run_started_at.isoformat() ~ "'") %}

with

current_ids as (
    select
        source,
        record_key,
        customer_id,
        _loaded_through
    from {{ ref('int_source_records_resolved') }}
    {%- if is_incremental() %}
    where {{ after_watermark('_loaded_through') }}
    {%- endif %}
)

{% if is_incremental() %}

, previous_ids as (
    select source, record_key, customer_id, first_assigned_at
    from {{ this }}
)

select
    c.source,
    c.record_key,
    c.customer_id,
    p.customer_id as previous_customer_id,
    coalesce(p.first_assigned_at, {{ run_at }}) as first_assigned_at,
    {{ run_at }} as assigned_at,
    c._loaded_through
from current_ids as c
left join previous_ids as p
    on c.source = p.source
    and c.record_key = p.record_key
where p.customer_id is null
    or p.customer_id <> c.customer_id

{% else %}

select
    source,
    record_key,
    customer_id,
    cast(null as {{ dbt.type_string() }}) as previous_customer_id,
    {{ run_at }} as first_assigned_at,
    {{ run_at }} as assigned_at,
    _loaded_through
from current_ids

{% endif %}
