with source as (
    select * from {{ source('shopstream', 'products') }}
),

renamed as (
    select
        -- ids
        cast(id as bigint) as product_id,
        sku,
        cast(merchant_id as bigint) as merchant_id,
        -- attributes
        name as product_name,
        category,
        brand,
        cast(active as boolean) as is_active,
        -- numerics
        {{ civiclake.to_money('unit_price') }} as unit_price,
        {{ civiclake.to_money('unit_cost') }} as unit_cost,
        -- timestamps
        {{ civiclake.utc_timestamp('created_at') }} as created_at,
        {{ civiclake.utc_timestamp('updated_at') }} as updated_at,
        -- lineage
        coalesce(_deleted, false) as is_deleted,
        {{ civiclake.bronze_lineage_columns() }}
    from source
)

select * from renamed
