{#- Persistency: one row per acquisition cohort (month of the first paid order) and month
    since then (0 = the cohort month) up to the run date's month: the cohort's customers
    who placed a paid order in that month, and the share of the cohort they are. The
    retention matrix in long form; months without a buyer are rows with 0. -#}

{%- set as_of = as_of_date() %}

with

run_date as (

    select cast({{ dbt.date_trunc('month', as_of) }} as date) as as_of_month

),

-- The months each customer placed a paid order in, from the compact base (a row per
-- month, channel and customer, paid orders on or before the as-of date only), not from
-- every order of the history.
customer_months as (

    select distinct
        customer_id,
        month as order_month
    from {{ ref('int_customer_months_summarised') }}
    where customer_id is not null

),

cohorts as (

    select
        customer_id,
        min(order_month) as cohort_month
    from customer_months
    group by customer_id

),

cohort_sizes as (

    select
        cohort_month,
        count(*) as cohort_customers
    from cohorts
    group by cohort_month

),

-- 0 .. 1199: up to 100 years of months
month_offsets as (

    -- typed: dbt's generate_series numbers are DOUBLE on Spark, BIGINT on DuckDB
    select cast(generated_number - 1 as {{ dbt.type_bigint() }}) as months_since_first
    from ({{ dbt.generate_series(1200) }}) as series

),

grid as (

    select
        cohort_sizes.cohort_month,
        cohort_sizes.cohort_customers,
        month_offsets.months_since_first,
        cast(
            {{ dbt.dateadd(
                'month', 'month_offsets.months_since_first', 'cohort_sizes.cohort_month'
            ) }}
            as date
        ) as activity_month
    from cohort_sizes
    cross join month_offsets
    cross join run_date
    where month_offsets.months_since_first
        <= {{ dbt.datediff('cohort_sizes.cohort_month', 'run_date.as_of_month', 'month') }}

),

active as (

    select
        cohorts.cohort_month,
        customer_months.order_month,
        count(*) as active_customers
    from customer_months
    inner join cohorts
        on customer_months.customer_id = cohorts.customer_id
    group by cohorts.cohort_month, customer_months.order_month

),

final as (

    select
        grid.cohort_month,
        grid.months_since_first,
        grid.activity_month,
        grid.cohort_customers,
        coalesce(active.active_customers, 0) as active_customers,
        cast(coalesce(active.active_customers, 0) as {{ type_double() }})
        / grid.cohort_customers as retention_rate
    from grid
    left join active
        on grid.cohort_month = active.cohort_month
        and grid.activity_month = active.order_month

)

select * from final
