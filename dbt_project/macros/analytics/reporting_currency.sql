{#- The currency every reporting amount is converted into: the warehouse setting
    CRM_REPORTING_CURRENCY (pipelines/settings.py, default CNY), which `crm-warehouse` hands
    to dbt, unless var reporting_currency overrides it (unit tests, --vars). -#}
{% macro reporting_currency() -%}
    {%- set value = var('reporting_currency', none) or env_var('CRM_REPORTING_CURRENCY', '') -%}
    {%- set code = value | string | trim | upper -%}
    {%- if not modules.re.fullmatch('[A-Z]{3}', code) -%}
        {{ exceptions.raise_compiler_error(
            "the reporting currency must be an ISO 4217 code such as CNY, not '" ~ value
            ~ "': set CRM_REPORTING_CURRENCY (run dbt through `crm-warehouse dbt ...`)"
        ) }}
    {%- endif -%}
    {{ return(code) }}
{%- endmacro %}
