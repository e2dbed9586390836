{#- One row per live ShopStream order line with its order, its product and its amounts. Amounts are in the
    order's currency, then in euros at the reference rates (seed currency_rates); product costs are in euros.
    Revenue counts once an order is paid: paid, shipped or delivered (not pending, cancelled or refunded). -#}
with order_items as (
    select * from {{ ref('int_shopstream_order_items_merged') }}
    where not is_deleted
),

orders as (
    select * from {{ ref('int_shopstream_orders_merged') }}
    where not is_deleted
),

products as (
    select * from {{ ref('int_shopstream_products_merged') }}
    where not is_deleted
),

rates as (
    select * from {{ ref('currency_rates') }}
),

amounts as (
    select
        order_items.order_item_id,
        order_items.order_id,
        orders.user_id as customer_id,
        order_items.product_id,
        products.merchant_id,
        orders.order_status,
        orders.currency,
        orders.shipping_country,
        coalesce(products.category, 'unknown') as category,
        order_items.quantity,
        order_items.unit_price,
        order_items.discount_amount,
        order_items.quantity * order_items.unit_price as gross_amount,
        order_items.quantity * order_items.unit_price - order_items.discount_amount as net_amount,
        rates.eur_per_unit,
        order_items.quantity * products.unit_cost as cost_eur,
        orders.ordered_at
    from order_items
    inner join orders on orders.order_id = order_items.order_id
    left join products on products.product_id = order_items.product_id
    left join rates on rates.currency = orders.currency
),

final as (
    select
        -- ids
        order_item_id,
        order_id,
        customer_id,
        product_id,
        merchant_id,
        -- attributes
        order_status,
        order_status in ('paid', 'shipped', 'delivered') as is_revenue,
        order_status = 'pending' as is_pending,
        order_status = 'cancelled' as is_cancelled,
        order_status = 'refunded' as is_refunded,
        order_status = 'delivered' as is_delivered,
        currency,
        shipping_country,
        category,
        -- numerics
        quantity,
        unit_price,
        discount_amount,
        cast(gross_amount as decimal(18, 2)) as gross_amount,
        cast(net_amount as decimal(18, 2)) as net_amount,
        cast(net_amount * eur_per_unit as decimal(18, 2)) as net_amount_eur,
        cast(cost_eur as decimal(18, 2)) as cost_eur,
        cast(net_amount * eur_per_unit - cost_eur as decimal(18, 2)) as margin_eur,
        -- timestamps
        cast(ordered_at as date) as order_date,
        ordered_at
    from amounts
)

select * from final
