{#- Audience: one row per consented buyer (customers.marketing_consent true) and
    recommendation rank: the SKUs of product_recommendations to show them, with the
    scores that chose them. -#}

select
    recommendations.customer_id,
    recommendations.recommendation_rank,
    recommendations.product_sku,
    recommendations.lift_score,
    recommendations.confidence_score,
    recommendations.supporting_skus,
    customers.marketing_consent
from {{ ref('product_recommendations') }} as recommendations
inner join {{ ref('customers') }} as customers
    on recommendations.customer_id = customers.customer_id
where customers.marketing_consent
