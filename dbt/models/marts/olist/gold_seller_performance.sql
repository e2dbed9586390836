with items as (
    select * from {{ ref('int_olist_order_items_enriched') }}
    where is_sale
),

orders as (
    select * from {{ ref('int_olist_orders_enriched') }}
),

seller_orders as (
    select distinct seller_id, order_id
    from items
),

order_outcomes as (
    select
        seller_orders.seller_id,
        avg(orders.review_score) as avg_review_score,
        avg(case when orders.is_delivered then orders.delivery_days end) as avg_delivery_days
    from seller_orders
    inner join orders on orders.order_id = seller_orders.order_id
    group by seller_orders.seller_id
),

seller_sales as (
    select
        seller_id,
        max(seller_city) as seller_city,
        count(distinct order_id) as total_orders,
        sum(item_revenue) as total_revenue
    from items
    group by seller_id
),

final as (
    select
        seller_sales.seller_id,
        seller_sales.seller_city,
        cast(seller_sales.total_orders as bigint) as total_orders,
        cast(seller_sales.total_revenue as decimal(18, 2)) as total_revenue,
        order_outcomes.avg_review_score,
        order_outcomes.avg_delivery_days
    from seller_sales
    left join order_outcomes on order_outcomes.seller_id = seller_sales.seller_id
)

select * from final
