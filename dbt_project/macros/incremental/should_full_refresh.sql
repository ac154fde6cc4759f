{#-
    dbt's should_full_refresh, plus the models the orchestration asks to rebuild.

    An incremental model's stored rows were computed with the SQL, seeds and vars of the
    night that wrote them. When any of those changed (a blocklist entry, an identity var,
    the model's own SQL or an upstream's), the rows no delivery touches would keep the old
    logic for ever. pipelines/defs/dbt/fingerprints.py compares each incremental model's
    fingerprint of what it reads with the one stored at its last successful build and
    names the models whose fingerprint changed (their descendants' change with them) in
    CRM_REBUILD_MODELS (comma-separated): those build in full, like --full-refresh.
    A model configured full_refresh=false (the identity history, which no rebuild can
    recreate) is never rebuilt, as with dbt's own macro. A macro of the root project
    replaces dbt's own of the same name; is_incremental() and the incremental
    materialisations call it.
-#}
{% macro should_full_refresh() -%}
    {%- set configured = config.get('full_refresh') -%}
    {%- if configured is not none -%}
        {#- full_refresh=false (the identity history) is never rebuilt, asked or not -#}
        {{ return(configured) }}
    {%- endif -%}
    {%- if flags.FULL_REFRESH -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set requested = env_var('CRM_REBUILD_MODELS', '').split(',') | map('trim') | list -%}
    {{ return(model is mapping and model.get('name') in requested) }}
{%- endmacro %}
