-- int_customer_purchases_summarised: the conventions of the BG/NBD / Gamma-Gamma inputs
-- hold on every row (returns the rows that break one).
select *
from {{ ref('int_customer_purchases_summarised') }}
where frequency < 0
    or frequency <> purchase_days - 1
    or paid_orders < purchase_days
    or recency_days < 0
    or recency_days > t_days
    or (frequency = 0 and (recency_days <> 0 or monetary_value is not null))
    or (frequency > 0 and (recency_days = 0 or monetary_value is null))
    or last_purchase_date > as_of_date
    or lines_without_cost > costed_order_lines
