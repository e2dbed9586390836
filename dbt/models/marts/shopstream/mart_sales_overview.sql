{#- Paid sales (paid, shipped, delivered orders) per day, shipping country, product category and customer
    segment. An order spanning two categories counts once in each: orders and customers add up over days and
    countries, not over categories. -#}
with items as (
    select * from {{ ref('fct_order_items') }}
    where is_revenue
),

products as (
    select * from {{ ref('dim_products') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

final as (
    select
        items.order_date,
        items.shipping_country,
        coalesce(products.category, 'unknown') as category,
        coalesce(customers.customer_segment, 'unknown') as customer_segment,
        cast(count(distinct items.order_id) as bigint) as orders,
        cast(count(distinct items.customer_id) as bigint) as customers,
        cast(sum(items.quantity) as bigint) as quantity,
        cast(sum(items.net_amount_eur) as decimal(18, 2)) as revenue_eur,
        cast(sum(items.margin_eur) as decimal(18, 2)) as margin_eur,
        {{ civiclake.divide_money('sum(items.net_amount_eur)', 'count(distinct items.order_id)') }} as average_basket_eur
    from items
    left join products on products.product_id = items.product_id
    left join customers on customers.customer_id = items.customer_id
    group by
        items.order_date,
        items.shipping_country,
        coalesce(products.category, 'unknown'),
        coalesce(customers.customer_segment, 'unknown')
)

select * from final
