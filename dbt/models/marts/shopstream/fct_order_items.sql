with items as (
    select * from {{ ref('int_shopstream_order_items_enriched') }}
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
        is_revenue,
        is_pending,
        is_cancelled,
        is_refunded,
        is_delivered,
        currency,
        shipping_country,
        -- numerics
        quantity,
        unit_price,
        discount_amount,
        gross_amount,
        net_amount,
        net_amount_eur,
        cost_eur,
        margin_eur,
        -- timestamps
        order_date,
        ordered_at
    from items
)

select * from final
