{#- Every gold revenue adds up to the same silver revenue: items of orders neither cancelled nor
    unavailable, price plus freight, computed here straight from the merged silver entities. A row returned
    names the gold model that disagrees. -#}
with silver as (
    select sum(items.price + items.freight_value) as revenue
    from {{ ref('int_olist_order_items_merged') }} as items
    inner join {{ ref('int_olist_orders_merged') }} as orders on orders.order_id = items.order_id
    where orders.order_status not in ('canceled', 'unavailable')
),

gold as (
    select 'gold_daily_sales' as model, sum(total_revenue) as revenue from {{ ref('gold_daily_sales') }}
    union all
    select 'gold_seller_performance', sum(total_revenue) from {{ ref('gold_seller_performance') }}
    union all
    select 'gold_product_analytics', sum(total_revenue) from {{ ref('gold_product_analytics') }}
)

select gold.model, gold.revenue as gold_revenue, silver.revenue as silver_revenue
from gold
cross join silver
where gold.revenue <> silver.revenue
    or (gold.revenue is null) <> (silver.revenue is null)
