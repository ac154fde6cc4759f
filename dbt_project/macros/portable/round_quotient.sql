{#-
    round_quotient(numerator, denominator, scale): numerator / denominator rounded half
    away from zero to `scale` decimals, exactly, as a DECIMAL(18, scale).

    DuckDB divides decimals in DOUBLE, so a quotient that ends in exactly 5 at the next
    decimal can land a hair below it and round down a cent (2.01 / 2 gives 1.00, not 1.01);
    Spark divides in DECIMAL and rounds it up. The parity test found such cents in
    int_customer_purchases_summarised.monetary_value (tests/integration/test_round_quotient.py). DuckDB's version therefore divides
    integer units of 10^-scale, which is exact; Spark (and the default) keep the decimal
    division. The numerator must be a DECIMAL with at most `scale` decimals (an amount).
-#}
{% macro round_quotient(numerator, denominator, scale=2) -%}
    {{ return(adapter.dispatch('round_quotient', 'crm_warehouse')(numerator, denominator, scale)) }}
{%- endmacro %}

{% macro default__round_quotient(numerator, denominator, scale) -%}
    cast(round(({{ numerator }}) / ({{ denominator }}), {{ scale }}) as decimal(18, {{ scale }}))
{%- endmacro %}

{% macro duckdb__round_quotient(numerator, denominator, scale) -%}
    {%- set units = "cast((" ~ numerator ~ ") * " ~ (10 ** scale) ~ " as hugeint)" -%}
    {%- set divisor = "cast((" ~ denominator ~ ") as hugeint)" -%}
    cast(
        sign({{ units }}) * sign({{ divisor }})
        * ((abs({{ units }}) * 2 + abs({{ divisor }})) // (2 * abs({{ divisor }})))
        / {{ 10 ** scale }}
        as decimal(18, {{ scale }})
    )
{%- endmacro %}
