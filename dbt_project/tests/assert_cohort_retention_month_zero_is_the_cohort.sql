{{ config(meta={'dagster': {'ref': {'name': 'cohort_retention'}}}) }}

-- cohort_retention: in its own month every customer of a cohort is active (they placed
-- their first paid order then), and the cohorts together are exactly the buyers of
-- customer_rfm. Returns the cohorts (or the total) that break it.

with

cohorts as (

    select cohort_month, cohort_customers, active_customers
    from {{ ref('cohort_retention') }}
    where months_since_first = 0

),

buyers as (

    select count(*) as buyers from {{ ref('customer_rfm') }}

)

select
    cast(cohort_month as {{ dbt.type_string() }}) as cohort,
    cohort_customers,
    active_customers
from cohorts
where active_customers <> cohort_customers
union all
select
    'all cohorts' as cohort,
    (select sum(cohort_customers) from cohorts) as cohort_customers,
    buyers.buyers as active_customers
from buyers
where (select sum(cohort_customers) from cohorts) <> buyers.buyers
