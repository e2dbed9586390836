with source as (
    select * from {{ source('olist', 'order_payments') }}
),

renamed as (
    select
        -- ids
        {{ civiclake.to_text('order_id') }} as order_id,
        cast({{ civiclake.to_bigint('payment_sequential') }} as integer) as payment_sequential,
        -- attributes
        lower(payment_type) as payment_type,
        -- numerics
        cast({{ civiclake.to_bigint('payment_installments') }} as integer) as payment_installments,
        {{ civiclake.to_money('payment_value') }} as payment_value,
        -- lineage
        {{ civiclake.bronze_lineage_columns() }}
    from source
)

select * from renamed
