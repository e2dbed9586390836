with source as (
    select * from {{ source('olist', 'orders') }}
),

renamed as (
    select
        -- ids
        {{ civiclake.to_text('order_id') }} as order_id,
        {{ civiclake.to_text('customer_id') }} as customer_id,
        -- attributes
        lower(order_status) as order_status,
        -- timestamps
        {{ civiclake.to_timestamp('order_purchase_timestamp') }} as purchased_at,
        {{ civiclake.to_timestamp('order_approved_at') }} as approved_at,
        {{ civiclake.to_timestamp('order_delivered_carrier_date') }} as delivered_to_carrier_at,
        {{ civiclake.to_timestamp('order_delivered_customer_date') }} as delivered_to_customer_at,
        {{ civiclake.to_timestamp('order_estimated_delivery_date') }} as estimated_delivery_at,
        -- lineage
        {{ civiclake.bronze_lineage_columns() }}
    from source
)

select * from renamed
