{#- One row per identity record (source, record_key) with its resolved customer_id: the
    interface the orders and interactions marts join on. Every record has one; a record that
    links to nothing is its own customer.

    customer_id = 'C' + 16 hex digits of md5('<anchor source>:<anchor record_key>'), where
    the anchor is the cluster's earliest record by (first_seen_at, source, record_key). New
    records therefore keep an existing customer's id; when new data merges two clusters the
    older anchor's id survives and the other is retired (logged in customer_id_merges).

    Kept by record (delete+insert on (source, record_key)): a night rewrites the records
    it delivered and, of the records int_identifiers_linked wrote after this model's
    _loaded_through, those that are new or whose customer_id changed, and deletes those no
    longer in the graph (a tombstone). int_identifiers_linked rewrites every record of a component the night
    touched (about 10 per new record at L, a customer's earlier orders); their customer_id
    stays, so their rows, and everything downstream of them, stay too. The customer_id of every row it
    replaces is logged (log_replaced): int_customers_profiled recomputes the customer a
    record left. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['source', 'record_key'],
        on_schema_change='fail',
        post_hook="{{ delete_tombstones('customer_id') }}",
        log_replaced=['customer_id'],
    )
}}
-- the change feed's refs inside is_incremental(), declared for dbt's parser:
-- depends_on: {{ ref('stg_generic__orders') }}

with

{% if is_incremental() -%}
relinked_records as (
    select source, record_key
    from {{ ref('int_identifiers_linked') }}
    where {{ after_watermark('_loaded_through') }}
),

-- the records the night delivered (their rows downstream read, e.g. the profile), and
-- of the records int_identifiers_linked rewrote, those new, relabelled or gone
changed_records as (
    {{ identity_changed_records() }}
    union
    select relinked_records.source, relinked_records.record_key
    from relinked_records
    left join {{ ref('int_identifiers_linked') }} as linked
        on relinked_records.source = linked.source
        and relinked_records.record_key = linked.record_key
    left join {{ this }} as stored
        on relinked_records.source = stored.source
        and relinked_records.record_key = stored.record_key
    where linked.record_key is null
        or stored.record_key is null
        or stored.customer_id
        <> {{ identity_customer_id('linked.anchor_source', 'linked.anchor_record_key') }}
),
{%- endif %}

final as (
    select
        source,
        record_key,
        {{ identity_customer_id('anchor_source', 'anchor_record_key') }} as customer_id,
        -- the change feed's watermark (docs/incremental.md)
        {{ identity_loaded_through() }} as _loaded_through
    from {{ ref('int_identifiers_linked') }}
)

{% if is_incremental() %}

{{ rows_of_changed_keys('final', 'changed_records', ['source', 'record_key'], ['source', 'record_key']) }}

{% else %}

select * from final

{% endif %}
