{#-
    not_null_columns: a model's non-null columns in one test, where dbt's `not_null` is a
    test per column.

    A night runs each test as a dbt node, and at M a node costs dbt ~20 ms besides its
    query: 251 one-column not_null tests were half of the night's ~500 nodes and a fifth of
    its node-seconds (DECISIONLOG.md, "One not_null test per model"). This test reads the model
    once and returns one row per listed column that holds nulls, with their count, so a
    failure still names the column (dbt counts the rows as the test's failures). A
    not_null test with its own config (`where`, `severity`) stays a one-column test.

    It reads the night's rows like dbt's not_null (night_tests.sql).
-#}
{% test not_null_columns(model, columns) -%}
    with null_counts as {{ materialized_cte() }} (
        select
        {%- for column in columns %}
            sum(case when {{ column }} is null then 1 else 0 end) as nulls_{{ loop.index }}
            {{- ',' if not loop.last }}
        {%- endfor %}
        from {{ model }}
    )
    {% for column in columns -%}
    select '{{ column }}' as column_name, nulls_{{ loop.index }} as null_rows
    from null_counts
    where nulls_{{ loop.index }} > 0
    {% if not loop.last %}union all
    {% endif -%}
    {%- endfor %}
{%- endtest %}
