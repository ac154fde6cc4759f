{#- on-run-start: dbt's DuckDB database may read and write files only in the folders the
    warehouse settings name (env CRM_ALLOWED_DIRECTORIES, os.pathsep-separated,
    set by pipelines/settings.py; the seeds folder is one of them: dbt-duckdb COPYs seed
    files in). The same limit as pipelines.lib.warehouse.restrict_file_access, for the same
    reasons: no path outside them, no extension install. A database already restricted
    (an earlier invocation in this process) is left as it is: DuckDB refuses to change
    the list once access is limited. Engines without such a setting do nothing here. -#}
{% macro restrict_file_access() -%}
    {{ return(adapter.dispatch('restrict_file_access', 'crm_warehouse')()) }}
{%- endmacro %}

{% macro default__restrict_file_access() -%}
    select 1 as file_access_unchanged
{%- endmacro %}

{% macro duckdb__restrict_file_access() -%}
    {%- set folders = env_var('CRM_ALLOWED_DIRECTORIES', '') -%}
    {%- if not execute or folders == '' -%}
        {{ return('select 1 as file_access_unchanged') }}
    {%- endif -%}
    {%- set open = run_query("select current_setting('enable_external_access')").columns[0].values()[0] -%}
    {%- if not open -%}
        {{ return('select 1 as file_access_unchanged') }}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for folder in folders.split(':') if folder -%}
        {%- do quoted.append("'" ~ (folder ~ '/') | replace("'", "''") ~ "'") -%}
    {%- endfor -%}
    set allowed_directories = [{{ quoted | join(', ') }}];
    set enable_external_access = false
{%- endmacro %}
