{#- Prospecting: one row per segment dimension (all, lifecycle_stage, value_tier) and
    segment: next-12-month expected purchases and revenue of its buyers, summed from
    customer_clv (macro clv_predictions: the model on DuckDB, its Parquet copy on Spark).
    Sums cover the customers with prediction_status = 'predicted' only; a
    segment where some or all customers have no prediction says so in prediction_status
    (partially_predicted, or the customers' own status, e.g. insufficient_history). -#}

{%- set dimensions = [
    ('all', "'all'"),
    ('lifecycle_stage', 'segments.lifecycle_stage'),
    ('value_tier', 'segments.value_tier'),
] %}

with

clv as (

    select
        clv.customer_id,
        clv.as_of_date,
        clv.historical_clv,
        clv.probability_alive,
        clv.expected_purchases_52w,
        clv.predicted_clv_12m,
        clv.prediction_status,  -- noqa: disable=LT02
        {%- for name, column in dimensions %}
        cast({{ column }} as {{ dbt.type_string() }})
            as segment_{{ name }}{{ "," if not loop.last }}
        {%- endfor %}  -- noqa: enable=LT02
    from {{ clv_predictions() }} as clv
    left join {{ ref('customer_segments') }} as segments
        on clv.customer_id = segments.customer_id

),

unpivoted as (

    {%- for name, column in dimensions %}
    select
        '{{ name }}' as dimension,
        coalesce(segment_{{ name }}, 'unknown') as segment,
        clv.*
    from clv
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

counted as (

    select
        dimension,
        segment,
        max(as_of_date) as as_of_date,
        count(*) as customers,
        sum(case when prediction_status = 'predicted' then 1 else 0 end) as predicted_customers,
        min(case when prediction_status <> 'predicted' then prediction_status end)
            as other_status,
        sum(historical_clv) as historical_clv,
        sum(case when prediction_status = 'predicted' then expected_purchases_52w end)
            as expected_purchases_52w,
        sum(case when prediction_status = 'predicted' then predicted_clv_12m end)
            as predicted_clv_12m,
        avg(case when prediction_status = 'predicted' then probability_alive end)
            as average_probability_alive
    from unpivoted
    group by dimension, segment

),

final as (

    select
        dimension,
        segment,
        as_of_date,
        customers,
        predicted_customers,
        case
            when predicted_customers = customers then 'predicted'
            when predicted_customers = 0 then other_status
            else 'partially_predicted'
        end as prediction_status,
        historical_clv,
        expected_purchases_52w,
        predicted_clv_12m,
        average_probability_alive
    from counted

)

select * from final
