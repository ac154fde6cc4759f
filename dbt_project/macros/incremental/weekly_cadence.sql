{#-
    The marts on a weekly cadence (docs/incremental.md, "Marts on a weekly cadence").

    An as-of mart that no compact base can keep without changing what it means (the
    margins at the catalogue's current cost, the product pairs over all orders) is an
    incremental model tagged `weekly` whose nightly branch writes nothing: the table keeps
    the figures of its last build. The week of the run is part of its fingerprint
    (pipelines/defs/dbt/fingerprints.py), so the first run of a week builds it in full, as
    does any change to what it reads. Usage, around the model's whole select:

        {%- if is_incremental() %}{{ kept_for_the_week() }}{% else %} ... {% endif %}
-#}
{% macro kept_for_the_week() -%}
    -- a night inside the week: the mart keeps its last build (tag weekly)
    select * from {{ this }} where false
{%- endmacro %}
