{#-
    Light cleaning shared by every staging model. Plain ANSI functions (trim, nullif,
    regexp_replace), so no adapter.dispatch is needed.
-#}

{#- Trimmed text; empty or blank becomes NULL. Ingest keeps text as delivered. -#}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{#- Phones and zips: also drop the leading apostrophe Shopify/Excel put there to keep
    leading zeros and '+' ('+46 70…, '0183). Identifier normalisation (E.164, case) is
    done later, by the identity macros. -#}
{% macro clean_excel_text(column) -%}
    nullif(trim(regexp_replace(trim({{ column }}), '^''+', '')), '')
{%- endmacro %}

{#- Lower-cased trimmed text, for closed vocabularies (statuses, channels, platforms). -#}
{% macro clean_code(column) -%}
    lower(nullif(trim({{ column }}), ''))
{%- endmacro %}

{#- ISO currency code: trimmed, upper-case, defaulting to the source's contract currency. -#}
{% macro clean_currency(column, default=none) -%}
    {%- if default is none -%}
    upper(nullif(trim({{ column }}), ''))
    {%- else -%}
    coalesce(upper(nullif(trim({{ column }}), '')), '{{ default }}')
    {%- endif -%}
{%- endmacro %}

{#-
    Supersession order of raw rows that share a key: the latest delivery wins, then the
    latest load of that day (a corrected file re-delivered into the same day folder; the
    load id is a hash, so the load time decides), then the last row of that load. Use as
    `row_number() over (partition by <key> order by {{ latest_delivery_first() }}) = 1`.
    with_line=false ranks loads only (for sources whose key spans several rows).
-#}
{% macro latest_delivery_first(with_line=true) -%}
    _delivery_date desc, _loaded_at desc, _load_id desc{% if with_line %}, _source_line desc{% endif %}
{%- endmacro %}


{#- Every row of the latest load of each key, for sources whose key spans several rows (an
    order's lines): `select ... from ({{ rows_of_latest_load('keyed', 'order_key') }})`.
    A later load of the key replaces all its rows, so lines dropped from a corrected order
    disappear too. `relation` may be a CTE name or a parenthesised query with an alias. -#}
{% macro rows_of_latest_load(relation, key) -%}
    select *
    from (
        select
            *,
            dense_rank() over (
                partition by {{ key }} order by {{ latest_delivery_first(with_line=false) }}
            ) as load_rank
        from {{ relation }}
    ) as ranked
    where load_rank = 1
{%- endmacro %}
