{#- Identifier normalisation for identity resolution. Each macro returns a SQL expression
    over a column (or expression) and yields NULL for values that cannot identify anyone.
    The rules, and their reasons, are written out in pipelines/lib/normalise.py, the Python
    twin of these macros; tests/unit/test_normalise.py checks that both agree on one table
    of cases. Change them together. -#}


{#- E-mail: trim + lower; implausible -> NULL; Gmail only: drop dots and +tag in the local
    part and canonicalise googlemail.com to gmail.com. -#}
{% macro normalise_email(col) -%}
    {%- set e = "lower(trim(" ~ col ~ "))" -%}
    {%- set local_part = dbt.split_part(e, "'@'", 1) | trim -%}
    {%- set gmail_local = "replace(" ~ (dbt.split_part(local_part, "'+'", 1) | trim) ~ ", '.', '')" -%}
    case
        when not {{ identity_regexp_matches(e, identity_pattern('email')) }} then null
        when {{ dbt.split_part(e, "'@'", 2) | trim }} in ('gmail.com', 'googlemail.com')
            then case when {{ gmail_local }} <> ''
                then {{ dbt.concat([gmail_local, "'@gmail.com'"]) }} end
        else {{ e }}
    end
{%- endmacro %}


{#- Chinese national significant number -> +86..., or NULL when implausible. -#}
{% macro _identity_cn_national(national) -%}
    case when {{ identity_regexp_matches(national, identity_pattern('cn_national')) }}
        then {{ dbt.concat(["'+86'", national]) }} end
{%- endmacro %}


{#- Country code + number written with an explicit "+" or "00" (digits only, prefix gone). -#}
{% macro _identity_phone_international(digits) -%}
    {%- set after_86 = "substr(" ~ digits ~ ", 3)" -%}
    {%- set cn_national = "case when " ~ after_86 ~ " like '0%' then substr(" ~ digits ~ ", 4) else " ~ after_86 ~ " end" -%}
    case
        when {{ digits }} like '86%' then {{ _identity_cn_national(cn_national) }}
        when {{ identity_regexp_matches(digits, identity_pattern('international')) }}
            then {{ dbt.concat(["'+'", digits]) }}
    end
{%- endmacro %}


{#- Phone -> E.164. Default country code: var default_country_code. -#}
{% macro normalise_phone(col) -%}
    {%- set cc = var('default_country_code') | string -%}
    {%- set unquoted = "trim(" ~ identity_regexp_replace("trim(" ~ col ~ ")", "'^'''", "''") ~ ")" -%}
    {%- set s = "replace(" ~ unquoted ~ ", '(0)', '')" -%}
    {%- set d = identity_regexp_replace(s, "'[^0-9]'", "''") -%}
    {%- set national = "substr(" ~ d ~ ", 2)" -%}
    case
        when not {{ identity_regexp_matches(s, identity_pattern('phone_chars')) }} then null
        when {{ s }} like '+%' then {{ _identity_phone_international(d) }}
        when {{ d }} like '00%' then {{ _identity_phone_international("substr(" ~ d ~ ", 3)") }}
        when {{ identity_regexp_matches(d, identity_pattern('cn_mobile')) }}
            then {{ dbt.concat(["'+86'", d]) }}
        when {{ d }} like '86%'
            and {{ identity_regexp_matches("substr(" ~ d ~ ", 3)", identity_pattern('cn_mobile')) }}
            then {{ dbt.concat(["'+'", d]) }}
        when {{ identity_regexp_matches(d, identity_pattern('trunk')) }} then
        {%- if cc == '86' %}
            {{ _identity_cn_national(national) }}
        {%- else %}
            case when {{ identity_regexp_matches(dbt.concat(["'" ~ cc ~ "'", national]), identity_pattern('international')) }}
                then {{ dbt.concat(["'+" ~ cc ~ "'", national]) }} end
        {%- endif %}
    end
{%- endmacro %}


{#- Social handle -> '<platform>:<handle>', lower case, leading @ removed. -#}
{% macro normalise_handle(platform, handle) -%}
    {%- set h = "lower(trim(" ~ identity_regexp_replace("trim(" ~ handle ~ ")", "'^@+'", "''") ~ "))" -%}
    case when trim({{ platform }}) <> '' and {{ h }} <> ''
        then {{ dbt.concat(["lower(trim(" ~ platform ~ "))", "':'", h]) }} end
{%- endmacro %}


{#- Loyalty card: upper case, spaces and dashes removed. -#}
{% macro normalise_loyalty_card(col) -%}
    nullif(upper({{ identity_regexp_replace("trim(" ~ col ~ ")", "'[ -]'", "''") }}), '')
{%- endmacro %}


{#- Tmall buyer nick: trim + lower. -#}
{% macro normalise_tmall_nick(col) -%}
    nullif(lower(trim({{ col }})), '')
{%- endmacro %}


{#- A mapped export's own customer key, '<export>:<id>': an account id like a nick, so the
    same rule (trim + lower); the export name keeps two exports' ids apart. -#}
{% macro normalise_merchant_customer(col) -%}
    {{ normalise_tmall_nick(col) }}
{%- endmacro %}


{#- Person name, only to count distinct names per phone / e-mail: lower case, whitespace
    (also the full-width space) and name punctuation removed. -#}
{% macro normalise_person_name(col) -%}
    nullif({{ identity_regexp_replace("lower(trim(" ~ col ~ "))", identity_pattern('name_strip'), "''") }}, '')
{%- endmacro %}
