{#- One row per order item with what the gold models group by: its order (status, dates, customer), its
    seller and its product category. An item's revenue is what the customer paid for it: price plus freight.
    Items of cancelled or unavailable orders are not sales (`is_sale` false). -#}
with order_items as (
    select * from {{ ref('int_olist_order_items_merged') }}
),

orders as (
    select * from {{ ref('int_olist_orders_merged') }}
),

customers as (
    select * from {{ ref('int_olist_customers_merged') }}
),

sellers as (
    select * from {{ ref('int_olist_sellers_merged') }}
),

products as (
    select * from {{ ref('int_olist_products_merged') }}
),

categories as (
    select * from {{ ref('int_olist_product_categories_merged') }}
),

final as (
    select
        -- ids
        order_items.order_id,
        order_items.order_item_id,
        order_items.product_id,
        order_items.seller_id,
        orders.customer_id,
        customers.customer_unique_id,
        -- attributes
        orders.order_status,
        orders.order_status not in ('canceled', 'unavailable') as is_sale,
        coalesce(categories.product_category_name_english, products.product_category_name, 'unknown')
            as product_category,
        sellers.seller_city,
        sellers.seller_state,
        customers.customer_state,
        -- numerics
        order_items.price,
        order_items.freight_value,
        -- Trino widens a sum of two decimal(18, 2) to decimal(19, 2), DuckDB does not: one type on both
        cast(order_items.price + order_items.freight_value as decimal(18, 2)) as item_revenue,
        -- timestamps
        cast(orders.purchased_at as date) as order_date,
        orders.purchased_at,
        orders.delivered_to_customer_at,
        orders.estimated_delivery_at
    from order_items
    inner join orders on orders.order_id = order_items.order_id
    left join customers on customers.customer_id = orders.customer_id
    left join sellers on sellers.seller_id = order_items.seller_id
    left join products on products.product_id = order_items.product_id
    left join categories on categories.product_category_name = products.product_category_name
)

select * from final
