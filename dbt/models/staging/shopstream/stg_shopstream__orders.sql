with source as (
    select * from {{ source('shopstream', 'orders') }}
),

renamed as (
    select
        -- ids
        cast(id as bigint) as order_id,
        cast(user_id as bigint) as user_id,
        -- attributes
        status as order_status,
        upper(currency) as currency,
        upper(shipping_country) as shipping_country,
        -- numerics
        {{ civiclake.to_money('total_amount') }} as total_amount,
        -- timestamps
        {{ civiclake.utc_timestamp('ordered_at') }} as ordered_at,
        {{ civiclake.utc_timestamp('created_at') }} as created_at,
        {{ civiclake.utc_timestamp('updated_at') }} as updated_at,
        -- lineage
        coalesce(_deleted, false) as is_deleted,
        {{ civiclake.bronze_lineage_columns() }}
    from source
)

select * from renamed
