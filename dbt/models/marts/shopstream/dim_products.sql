with products as (
    select * from {{ ref('int_shopstream_products_merged') }}
    where not is_deleted
),

final as (
    select
        -- ids
        product_id,
        sku,
        merchant_id,
        -- attributes
        product_name,
        category,
        brand,
        is_active,
        -- numerics
        unit_price,
        unit_cost,
        cast(unit_price - unit_cost as decimal(18, 2)) as unit_margin,
        case when unit_price > 0 then {{ civiclake.ratio('unit_price - unit_cost', 'unit_price') }} end as margin_rate,
        -- timestamps
        created_at
    from products
)

select * from final
