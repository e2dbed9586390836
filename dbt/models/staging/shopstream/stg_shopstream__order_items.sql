with source as (
    select * from {{ source('shopstream', 'order_items') }}
),

renamed as (
    select
        -- ids
        cast(id as bigint) as order_item_id,
        cast(order_id as bigint) as order_id,
        cast(product_id as bigint) as product_id,
        -- numerics
        cast(quantity as integer) as quantity,
        {{ civiclake.to_money('unit_price') }} as unit_price,
        {{ civiclake.to_money('discount_amount') }} as discount_amount,
        -- timestamps
        {{ civiclake.utc_timestamp('created_at') }} as created_at,
        {{ civiclake.utc_timestamp('updated_at') }} as updated_at,
        -- lineage
        coalesce(_deleted, false) as is_deleted,
        {{ civiclake.bronze_lineage_columns() }}
    from source
)

select * from renamed
