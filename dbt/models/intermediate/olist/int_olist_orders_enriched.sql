{#- One row per order with its customer, revenue, items, delivery and review: the grain of RFM and
    delivery analysis. Delivery days run from purchase to receipt, in fractional days; an order is on time
    when received on or before the promised day. -#}
with orders as (
    select * from {{ ref('int_olist_orders_merged') }}
),

customers as (
    select * from {{ ref('int_olist_customers_merged') }}
),

order_items as (
    select * from {{ ref('int_olist_order_items_merged') }}
),

reviews as (
    select * from {{ ref('int_olist_order_reviews_merged') }}
),

item_totals as (
    select
        order_id,
        count(*) as item_count,
        sum(price + freight_value) as order_revenue
    from order_items
    group by order_id
),

review_scores as (
    select
        order_id,
        avg(cast(review_score as double)) as review_score
    from reviews
    group by order_id
),

final as (
    select
        -- ids
        orders.order_id,
        orders.customer_id,
        customers.customer_unique_id,
        -- attributes
        orders.order_status,
        orders.order_status not in ('canceled', 'unavailable') as is_sale,
        customers.customer_state,
        orders.order_status = 'delivered' and orders.delivered_to_customer_at is not null as is_delivered,
        case
            when orders.delivered_to_customer_at is null or orders.estimated_delivery_at is null then null
            else cast(orders.delivered_to_customer_at as date) <= cast(orders.estimated_delivery_at as date)
        end as is_delivered_on_time,
        -- numerics
        coalesce(item_totals.item_count, 0) as item_count,
        coalesce(item_totals.order_revenue, 0) as order_revenue,
        {{ civiclake.seconds_between('orders.purchased_at', 'orders.delivered_to_customer_at') }} / 86400
            as delivery_days,
        review_scores.review_score,
        -- timestamps
        cast(orders.purchased_at as date) as order_date,
        orders.purchased_at,
        orders.delivered_to_customer_at,
        orders.estimated_delivery_at
    from orders
    left join customers on customers.customer_id = orders.customer_id
    left join item_totals on item_totals.order_id = orders.order_id
    left join review_scores on review_scores.order_id = orders.order_id
)

select * from final
