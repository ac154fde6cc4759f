{#-
    row_fingerprint(columns): one value per row that changes when any of `columns` changes
    (nulls included), so two versions of a row can be compared on one narrow column instead
    of carrying every compared column through a join. The incremental change detection
    (changed_rows) uses it: at scale L, `order_lines` compares 13 columns of 10 M stored
    and 10 M fresh rows; the fingerprint took that model from 38.8 s to 28.3 s
    (docs/benchmarks.md).

    Both sides of a comparison must compute it over the same column types (they do: the
    stored table was created from the same SELECT). A change is missed only if the two
    versions collide: 2^-64 per changed row with DuckDB's 64-bit hash().
-#}

{% macro row_fingerprint(columns) -%}
    {{ return(adapter.dispatch('row_fingerprint', 'crm_warehouse')(columns)) }}
{%- endmacro %}

{% macro duckdb__row_fingerprint(columns) -%}
    {#- hash() is variadic, positional and hashes null as a value of its own -#}
    hash({{ columns | join(', ') }})
{%- endmacro %}

{% macro default__row_fingerprint(columns) -%}
    {#- md5 over the columns as text, separated, each null spelled apart from any text -#}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- if not loop.first %}{% do parts.append("'|'") %}{% endif -%}
        {%- do parts.append(
            "coalesce('v' || cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), 'n')"
        ) -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}
