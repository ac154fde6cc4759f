{#- One row per customer with at least one paid order on or before the run date: RFM
    figures, 1-5 scores by quintile over the buyers and the segment of the first matching
    rule of seed rfm_segment_rules (preset var rfm_preset). -#}

{%- set preset = var('rfm_preset') %}

with

purchases as (

    select * from {{ ref('int_customer_purchases_summarised') }}

),

rules as (

    select * from {{ ref('rfm_segment_rules') }}
    where preset = '{{ preset }}'

),

figures as (

    select
        customer_id,
        as_of_date,
        first_purchase_date as first_order_date,
        last_purchase_date as last_order_date,
        {{ dbt.datediff('last_purchase_date', 'as_of_date', 'day') }} as recency_days,  -- noqa: LT05
        paid_orders as frequency,
        net_revenue as monetary
    from purchases

),

-- Quintiles: ntile(5) over the buyers, ascending in "better", so 5 = the best fifth
-- (most recent, most orders, most revenue). Ties at a quintile boundary would otherwise be
-- split by an arbitrary key: equal figures share the lowest ntile of their tie group.
ntiles as (

    select
        figures.*,
        ntile(5) over (order by figures.recency_days desc, figures.customer_id asc) as r_ntile,
        ntile(5) over (order by figures.frequency, figures.customer_id) as f_ntile,
        ntile(5) over (order by figures.monetary, figures.customer_id) as m_ntile
    from figures

),

scores as (

    select
        ntiles.*,
        min(ntiles.r_ntile) over (partition by ntiles.recency_days) as r_score,
        min(ntiles.f_ntile) over (partition by ntiles.frequency) as f_score,
        min(ntiles.m_ntile) over (partition by ntiles.monetary) as m_score
    from ntiles

),

-- FM = (F + M) / 2 rounded half up, so the rule grid is R x FM with integer cells.
fm as (

    select
        scores.*,
        cast(floor((scores.f_score + scores.m_score + 1) / 2.0) as {{ dbt.type_int() }}) as fm_score
    from scores

),

matches as (

    select
        fm.customer_id,
        rules.segment,
        rules.priority,
        row_number() over (partition by fm.customer_id order by rules.priority) as match_rank
    from fm
    inner join rules
        on fm.r_score between rules.r_min and rules.r_max
        and fm.fm_score between rules.fm_min and rules.fm_max

),

final as (

    select
        fm.customer_id,
        fm.as_of_date,
        fm.first_order_date,
        fm.last_order_date,
        fm.recency_days,
        fm.frequency,
        fm.monetary,
        cast(fm.r_score as {{ dbt.type_int() }}) as r_score,
        cast(fm.f_score as {{ dbt.type_int() }}) as f_score,
        cast(fm.m_score as {{ dbt.type_int() }}) as m_score,
        fm.fm_score,
        {{ dbt.concat([
            'cast(fm.r_score as ' ~ dbt.type_string() ~ ')',
            'cast(fm.f_score as ' ~ dbt.type_string() ~ ')',
            'cast(fm.m_score as ' ~ dbt.type_string() ~ ')'
        ]) }} as rfm_score,
        '{{ preset }}' as rfm_preset,
        matches.segment as rfm_segment,
        matches.priority as rfm_rule_priority
    from fm
    left join matches
        on fm.customer_id = matches.customer_id
        and matches.match_rank = 1

)

select * from final
