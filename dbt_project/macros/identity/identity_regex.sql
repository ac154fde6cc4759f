{#- Regular-expression helpers for the identity macros. Patterns are RE2/POSIX-compatible
    and free of backslashes, so they mean the same in every dialect's string literals;
    single quotes are escaped per adapter with dbt.escape_single_quotes. -#}

{#- The patterns, copied verbatim from pipelines/lib/normalise.py (tests/unit/test_normalise.py
    runs one case table through both). -#}
{% macro identity_pattern(name) -%}
    {%- set patterns = {
        'email': "^[a-z0-9!#$%&'+/=?^_`{|}~.-]+@([a-z0-9]([a-z0-9-]*[a-z0-9])?[.])+[a-z]{2,}$",
        'phone_chars': "^[-+0-9 ().]+$",
        'cn_mobile': "^1[3-9][0-9]{9}$",
        'cn_national': "^(1[3-9][0-9]{9}|10[0-9]{8}|[2-9][0-9]{8,10})$",
        'international': "^[1-9][0-9]{7,14}$",
        'trunk': "^0[1-9][0-9]{7,10}$",
        'name_strip': "[ 　.,'·•_-]",
    } -%}
    {{- "'" ~ dbt.escape_single_quotes(patterns[name]) ~ "'" -}}
{%- endmacro %}


{#- True when the pattern matches anywhere in the string (anchor it with ^...$). -#}
{% macro identity_regexp_matches(expression, pattern) -%}
    {{- return(adapter.dispatch('identity_regexp_matches', 'crm_warehouse')(expression, pattern)) -}}
{%- endmacro %}

{% macro default__identity_regexp_matches(expression, pattern) -%}
    ({{ expression }} ~ {{ pattern }})
{%- endmacro %}

{% macro duckdb__identity_regexp_matches(expression, pattern) -%}
    regexp_matches({{ expression }}, {{ pattern }})
{%- endmacro %}

{% macro spark__identity_regexp_matches(expression, pattern) -%}
    ({{ expression }} rlike {{ pattern }})
{%- endmacro %}

{% macro snowflake__identity_regexp_matches(expression, pattern) -%}
    regexp_instr({{ expression }}, {{ pattern }}) > 0
{%- endmacro %}


{#- Replace every match of the pattern. -#}
{% macro identity_regexp_replace(expression, pattern, replacement) -%}
    {{- return(adapter.dispatch('identity_regexp_replace', 'crm_warehouse')(expression, pattern, replacement)) -}}
{%- endmacro %}

{% macro default__identity_regexp_replace(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pattern }}, {{ replacement }}, 'g')
{%- endmacro %}

{% macro spark__identity_regexp_replace(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pattern }}, {{ replacement }})
{%- endmacro %}

{% macro snowflake__identity_regexp_replace(expression, pattern, replacement) -%}
    regexp_replace({{ expression }}, {{ pattern }}, {{ replacement }})
{%- endmacro %}
