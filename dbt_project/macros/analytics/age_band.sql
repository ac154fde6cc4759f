{#- The age band of someone born on `birthday` (a date column) on `as_of` (a date
    expression): <25, 25-34, 35-44, 45-54, 55+; null without a birthday or with an
    implausible age (below 0, above 120). The age counts whole years: a birthday later in
    the year than as_of's month and day has not come yet. -#}
{% macro age_band(birthday, as_of) -%}
    {%- set age -%}
        (
            extract(year from {{ as_of }}) - extract(year from {{ birthday }})
            - case
                when extract(month from {{ as_of }}) * 100 + extract(day from {{ as_of }})
                    < extract(month from {{ birthday }}) * 100 + extract(day from {{ birthday }})
                    then 1
                else 0
            end
        )
    {%- endset -%}
    case
        when {{ birthday }} is null or {{ age }} < 0 or {{ age }} > 120 then null
        when {{ age }} < 25 then '<25'
        when {{ age }} < 35 then '25-34'
        when {{ age }} < 45 then '35-44'
        when {{ age }} < 55 then '45-54'
        else '55+'
    end
{%- endmacro %}
