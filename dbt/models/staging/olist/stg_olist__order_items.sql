with source as (
    select * from {{ source('olist', 'order_items') }}
),

renamed as (
    select
        -- ids
        {{ civiclake.to_text('order_id') }} as order_id,
        cast({{ civiclake.to_bigint('order_item_id') }} as integer) as order_item_id,
        {{ civiclake.to_text('product_id') }} as product_id,
        {{ civiclake.to_text('seller_id') }} as seller_id,
        -- numerics
        {{ civiclake.to_money('price') }} as price,
        {{ civiclake.to_money('freight_value') }} as freight_value,
        -- timestamps
        {{ civiclake.to_timestamp('shipping_limit_date') }} as shipping_limit_at,
        -- lineage
        {{ civiclake.bronze_lineage_columns() }}
    from source
)

select * from renamed
