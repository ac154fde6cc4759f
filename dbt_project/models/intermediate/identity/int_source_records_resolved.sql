{#- One row per identity record (source, record_key) with its resolved customer_id: the
    interface the orders and interactions marts join on. Every record has one; a record that
    links to nothing is its own customer.

    customer_id = 'C' + 16 hex digits of md5('<anchor source>:<anchor record_key>'), where
    the anchor is the cluster's earliest record by (first_seen_at, source, record_key). New
    records therefore keep an existing customer's id; when new data merges two clusters the
    older anchor's id survives and the other is retired (logged in customer_id_merges).

    Kept by record (delete+insert on (source, record_key)): a night rewrites the records
    int_identifiers_linked wrote after this model's _loaded_through, and deletes the touched
    records that are no longer in the graph (a tombstone). The customer_id of every row it
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
changed_records as (
    {{ identity_records_relinked() }}
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
