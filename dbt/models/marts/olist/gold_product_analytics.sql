with items as (
    select * from {{ ref('int_olist_order_items_enriched') }}
    where is_sale
),

orders as (
    select * from {{ ref('int_olist_orders_enriched') }}
),

category_orders as (
    select distinct product_category, order_id
    from items
),

category_reviews as (
    select
        category_orders.product_category,
        avg(orders.review_score) as avg_review_score
    from category_orders
    inner join orders on orders.order_id = category_orders.order_id
    group by category_orders.product_category
),

category_sales as (
    select
        product_category,
        count(*) as total_sold,
        sum(item_revenue) as total_revenue,
        avg(cast(price as double)) as avg_price
    from items
    group by product_category
),

final as (
    select
        category_sales.product_category,
        cast(category_sales.total_sold as bigint) as total_sold,
        cast(category_sales.total_revenue as decimal(18, 2)) as total_revenue,
        cast(category_sales.avg_price as decimal(18, 2)) as avg_price,
        category_reviews.avg_review_score
    from category_sales
    left join category_reviews on category_reviews.product_category = category_sales.product_category
)

select * from final
