{#- True when this run's tests read the night's rows only (CRM_DBT_TEST_ROWS=night, set by
    the Dagster dbt assets on an incremental night: night_tests.sql). A singular test over
    models kept by key then checks what the last write touched. -#}
{% macro tests_read_the_night() -%}
    {{ return(env_var('CRM_DBT_TEST_ROWS', 'all') == 'night') }}
{%- endmacro %}


{#- Condition: `alias`'s row is of the last write of `relation` (its newest _loaded_through). -#}
{% macro of_last_write(relation, alias) -%}
    {{ alias }}._loaded_through = {{ newest_value('_loaded_through', relation) or 'null' }}
{%- endmacro %}
