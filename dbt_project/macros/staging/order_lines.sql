{#-
    first_of_repeated_lines: the rows of `relation` (an order-line export of one load per
    order) without repeats. A row whose `line_values` (expressions) equal an earlier row's
    of the same order (`key`) in the same file is a repeated delivery of that line, not a
    second line: the first in file order is kept. Shopify merges identical variants into
    one line with a quantity; Tmall's item report has one row per item and attribute set.
-#}
{% macro first_of_repeated_lines(relation, key, line_values) -%}
    select *
    from (
        select
            *,
            row_number() over (
                partition by
                    {{ key }},
                    {{ line_values | join(',\n                    ') }}
                order by _source_line
            ) as repeat_rank
        from {{ relation }}
    ) as ranked
    where repeat_rank = 1
{%- endmacro %}
