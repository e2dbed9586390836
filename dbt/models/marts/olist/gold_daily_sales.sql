with orders as (
    select * from {{ ref('int_olist_orders_enriched') }}
    where is_sale
),

final as (
    select
        order_date,
        count(*) as total_orders,
        cast(sum(order_revenue) as decimal(18, 2)) as total_revenue,
        {{ civiclake.divide_money('sum(order_revenue)', 'count(*)') }} as avg_order_value,
        cast(sum(item_count) as bigint) as total_items
    from orders
    group by order_date
)

select * from final
