{{ config(meta={'dagster': {'ref': {'name': 'customer_rfm'}}}) }}

-- Every buyer gets exactly one RFM segment. Returns a row per problem:
--   * a cell (r_score, fm_score) of the 5 x 5 grid that no rule of a preset matches
--     (seed rfm_segment_rules must cover the grid in every preset, not only the active one);
--   * a rule with score bounds that wins no cell (shadowed by rules of higher priority);
--   * a buyer (int_customer_purchases_summarised) without exactly one customer_rfm row
--     carrying a segment.

with

rules as (

    select * from {{ ref('rfm_segment_rules') }}

),

scores as (

    select generated_number as score
    from ({{ dbt.generate_series(5) }}) as series

),

cells as (

    select presets.preset, r.score as r_score, fm.score as fm_score
    from (select distinct preset from rules) as presets
    cross join scores as r
    cross join scores as fm

),

matches as (

    select
        cells.preset,
        cells.r_score,
        cells.fm_score,
        rules.segment,
        row_number() over (
            partition by cells.preset, cells.r_score, cells.fm_score
            order by rules.priority
        ) as match_rank
    from cells
    left join rules
        on cells.preset = rules.preset
        and cells.r_score between rules.r_min and rules.r_max
        and cells.fm_score between rules.fm_min and rules.fm_max

),

uncovered as (

    select
        preset,
        r_score,
        fm_score,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        'no rule matches this cell' as problem
    from matches
    where segment is null

),

winners as (

    select distinct preset, segment
    from matches
    where match_rank = 1 and segment is not null

),

dead_rules as (

    select
        rules.preset,
        cast(null as {{ dbt.type_int() }}) as r_score,
        cast(null as {{ dbt.type_int() }}) as fm_score,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        {{ dbt.concat(["'rule never wins a cell: '", 'rules.segment']) }} as problem
    from rules
    left join winners
        on rules.preset = winners.preset
        and rules.segment = winners.segment
    where rules.r_min is not null
        and winners.segment is null

),

buyer_rows as (

    select
        buyers.customer_id,
        count(rfm.customer_id) as rfm_rows,
        count(rfm.rfm_segment) as segments
    from {{ ref('int_customer_purchases_summarised') }} as buyers
    left join {{ ref('customer_rfm') }} as rfm
        on buyers.customer_id = rfm.customer_id
    group by buyers.customer_id

),

bad_buyers as (

    select
        cast(null as {{ dbt.type_string() }}) as preset,
        cast(null as {{ dbt.type_int() }}) as r_score,
        cast(null as {{ dbt.type_int() }}) as fm_score,
        customer_id,
        'buyer without exactly one segmented customer_rfm row' as problem
    from buyer_rows
    where rfm_rows <> 1 or segments <> 1

)

select * from uncovered
union all
select * from dead_rules
union all
select * from bad_buyers
