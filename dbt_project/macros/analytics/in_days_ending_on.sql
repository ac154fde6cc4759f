{#- in_days_ending_on(date_column, days, as_of): the date falls in the window of `days` days
    that ends on the as-of date, that day included: as_of - days < date <= as_of. A 90-day
    window holds 90 dates; the date exactly 90 days back is outside. One definition for the
    windows the analyses count events and orders in. -#}
{% macro in_days_ending_on(date_column, days, as_of) -%}
    {{ date_column }} <= {{ as_of }}
    and {{ date_column }} > {{ dbt.dateadd('day', -days, as_of) }}
{%- endmacro %}
