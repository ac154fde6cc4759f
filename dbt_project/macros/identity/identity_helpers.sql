{#- Small helpers shared by the identity models. -#}


{#- The record key of a social account: one identity record per platform and handle, as
    staging delivers them (trimmed). Other models that join social events to
    int_source_records_resolved use this macro so the keys cannot drift apart. -#}
{% macro social_record_key(platform, handle) -%}
    {{ dbt.concat([platform, "':'", "lower(" ~ handle ~ ")"]) }}
{%- endmacro %}


{#- The customer id of a cluster: 'C' + the first 16 hex digits of md5 of its anchor
    record's '<source>:<record_key>'. -#}
{% macro identity_customer_id(source, record_key) -%}
    {{ dbt.concat(["'C'", "substr(" ~ dbt.hash(dbt.concat([source, "':'", record_key])) ~ ", 1, 16)"]) }}
{%- endmacro %}


{#- Timestamp type that keeps the instant (timestamps from different sources compare
    correctly whatever the session time zone). -#}
{% macro identity_type_timestamp() -%}
    {{- return(adapter.dispatch('identity_type_timestamp', 'crm_warehouse')()) -}}
{%- endmacro %}

{% macro default__identity_type_timestamp() -%}
    {{ dbt.type_timestamp() }}
{%- endmacro %}

{% macro duckdb__identity_type_timestamp() -%}
    timestamptz
{%- endmacro %}

{% macro postgres__identity_type_timestamp() -%}
    timestamptz
{%- endmacro %}


{#- An instant column as the identity timestamp type. -#}
{% macro identity_timestamp(expression) -%}
    cast({{ expression }} as {{ identity_type_timestamp() }})
{%- endmacro %}


{#- Start of a local calendar day (var reporting_timezone) as an instant, so a date-only
    column (a loyalty join date) orders against timestamps the same way on every machine. -#}
{% macro identity_local_day_start(date_expression) -%}
    {{- return(adapter.dispatch('identity_local_day_start', 'crm_warehouse')(date_expression)) -}}
{%- endmacro %}

{% macro default__identity_local_day_start(date_expression) -%}
    cast(cast({{ date_expression }} as {{ dbt.type_timestamp() }}) as {{ identity_type_timestamp() }})
{%- endmacro %}

{% macro duckdb__identity_local_day_start(date_expression) -%}
    timezone('{{ var("reporting_timezone") }}', cast({{ date_expression }} as timestamp))
{%- endmacro %}

{% macro spark__identity_local_day_start(date_expression) -%}
    to_utc_timestamp(cast({{ date_expression }} as timestamp), '{{ var("reporting_timezone") }}')
{%- endmacro %}


{#- A stable integer key for a string (a record's '<source>:<record_key>', an identifier's
    '<type>:<value>'): the first 60 bits of its md5. The identity graph joins and takes
    minimums on integers, and a key that does not depend on the other rows (unlike a rank)
    lets a night recompute the affected records only. Two strings with one key would join
    two records or identifiers, so the models keyed by it test it unique. -#}
{% macro identity_key(expression) -%}
    {{- return(adapter.dispatch('identity_key', 'crm_warehouse')(expression)) -}}
{%- endmacro %}

{% macro default__identity_key(expression) -%}
    cast(('0x' || substr({{ dbt.hash(expression) }}, 1, 15)) as bigint)
{%- endmacro %}

{% macro spark__identity_key(expression) -%}
    cast(conv(substr({{ dbt.hash(expression) }}, 1, 15), 16, 10) as bigint)
{%- endmacro %}


{#- The graph keys of a record and of an identifier (int_identity_records_unioned,
    int_identity_edges); one definition, as models that recompute a key must match. -#}
{% macro identity_record_id(source, record_key) -%}
    {{ identity_key(dbt.concat([source, "':'", record_key])) }}
{%- endmacro %}

{% macro identity_identifier_id(identifier_type, identifier_value) -%}
    {{ identity_key(dbt.concat([identifier_type, "':'", identifier_value])) }}
{%- endmacro %}
