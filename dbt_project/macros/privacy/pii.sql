{#- Personal data in BI marts and exports: salted hashes and masked contacts, never the
    raw value (docs/privacy.md). Null in, null out. -#}

{#- sha256 of salt || value, hex. The salt is a secret outside the repository, read by the
    engine at run time (pipelines/lib/privacy.py), so it must never be rendered into the
    SQL: DuckDB gets it as the function crm_pii_salt() from a dbt-duckdb plugin. Another
    engine needs its own way to reach a secret before this macro can serve it. -#}
{% macro pii_hash(expr) -%}
    {{ return(adapter.dispatch('pii_hash', 'crm_warehouse')(expr)) }}
{%- endmacro %}

{% macro default__pii_hash(expr) -%}
    {{ exceptions.raise_compiler_error(
        "pii_hash has no implementation for " ~ target.type ~ ": the salt must reach the "
        ~ "engine without being written into the compiled SQL (macros/privacy/pii.sql)") }}
{%- endmacro %}

{% macro duckdb__pii_hash(expr) -%}
    sha256(crm_pii_salt() || {{ expr }})
{%- endmacro %}

{#- Spark substitutes ${env:NAME} with the driver's environment variable while it parses
    the statement, so the compiled SQL dbt writes holds only the placeholder (the runner
    exports CRM_PII_SALT: pipelines/cli.py; a cluster sets it from its secret store,
    docs/scaling-out.md). An unset variable is left as the placeholder text, which would
    hash with a known salt: the statement fails instead. -#}
{% macro spark__pii_hash(expr) -%}
    case
        when '${env:CRM_PII_SALT}' like '${env:%' then raise_error(
            'CRM_PII_SALT is not set in the Spark driver environment (docs/scaling-out.md)')
        when {{ expr }} is null then null
        else sha2(concat('${env:CRM_PII_SALT}', {{ expr }}), 256)
    end
{%- endmacro %}

{#- An E.164 phone as 138****5678: the national number of the default country (the
    country code of any other is kept), its first 3 and last 4 characters when it has 11
    or more, else only its last 4 (7 to 10) or nothing (shorter). -#}
{% macro mask_phone(expr) -%}
    {%- set domestic = "'+" ~ var('default_country_code') ~ "'" -%}
    {%- set number -%}
        (case
            when left({{ expr }}, {{ var('default_country_code') | length + 1 }}) = {{ domestic }}
                then substr({{ expr }}, {{ var('default_country_code') | length + 2 }})
            else {{ expr }}
        end)
    {%- endset -%}
    case
        when {{ expr }} is null then null
        when length({{ number }}) >= 11
            then left({{ number }}, 3) || '****' || right({{ number }}, 4)
        when length({{ number }}) >= 7 then '****' || right({{ number }}, 4)
        else '****'
    end
{%- endmacro %}

{#- An e-mail as j***@example.com: the first character of the local part and the domain. -#}
{% macro mask_email(expr) -%}
    case
        when {{ expr }} is null then null
        when {{ expr }} not like '%_@_%' then '***'
        else left({{ expr }}, 1) || '***@' || {{ dbt.split_part(expr, "'@'", 2) }}
    end
{%- endmacro %}

{#- The contact list of an audience mart: its customers who consented to marketing and can
    be reached (an e-mail or a phone), with name and contacts. Raw personal data: only
    for models of the restricted schema. -#}
{% macro audience_contacts(audience) -%}
    select
        audience.customer_id,
        pii.display_name,
        pii.primary_email as email,
        pii.primary_phone as phone
    from (select distinct customer_id from {{ ref(audience) }}) as audience
    inner join {{ ref('customer_pii') }} as pii
        on audience.customer_id = pii.customer_id
    where pii.marketing_consent
        and (pii.primary_email is not null or pii.primary_phone is not null)
{%- endmacro %}

{#- Free text (social posts, service notes) as served: e-mail addresses become [email],
    runs of 7+ digits and mobiles written 138 1234 5678 / 138-1234-5678 become [phone].
    Dates and short numbers stay. Patterns free of backslashes, as in identity_regex.sql. -#}
{% macro redact_contacts(expr) -%}
    {%- set email = "'[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+([.][A-Za-z0-9-]+)*[.][A-Za-z]{2,}'" -%}
    {%- set phone = "'[+]?[0-9]{7,}|1[3-9][0-9][ -][0-9]{4}[ -][0-9]{4}'" -%}
    {{ identity_regexp_replace(identity_regexp_replace(expr, email, "'[email]'"), phone, "'[phone]'") }}
{%- endmacro %}
