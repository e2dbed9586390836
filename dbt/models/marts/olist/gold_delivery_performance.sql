{#- Deliveries by seller state and customer state: one delivery per delivered order and seller (an order with
    two sellers travels twice). On time: received on or before the day promised to the customer. -#}
with items as (
    select * from {{ ref('int_olist_order_items_enriched') }}
),

orders as (
    select * from {{ ref('int_olist_orders_enriched') }}
    where is_delivered
),

deliveries as (
    select distinct
        items.seller_state,
        orders.customer_state,
        items.seller_id,
        orders.order_id,
        orders.delivery_days,
        orders.is_delivered_on_time
    from orders
    inner join items on items.order_id = orders.order_id
),

final as (
    select
        coalesce(seller_state, 'unknown') as seller_state,
        coalesce(customer_state, 'unknown') as customer_state,
        cast(count(*) as bigint) as total_deliveries,
        avg(delivery_days) as avg_delivery_days,
        avg(case when is_delivered_on_time then 1e0 else 0e0 end) as on_time_rate,
        avg(case when is_delivered_on_time then 0e0 else 1e0 end) as late_rate
    from deliveries
    group by coalesce(seller_state, 'unknown'), coalesce(customer_state, 'unknown')
)

select * from final
