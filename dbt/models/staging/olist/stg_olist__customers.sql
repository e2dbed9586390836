with source as (
    select * from {{ source('olist', 'customers') }}
),

renamed as (
    select
        -- ids
        {{ civiclake.to_text('customer_id') }} as customer_id,
        {{ civiclake.to_text('customer_unique_id') }} as customer_unique_id,
        -- attributes: zip prefixes are codes ("09790"), padded back when a reader made them numbers
        lpad({{ civiclake.to_text('customer_zip_code_prefix') }}, 5, '0') as customer_zip_code_prefix,
        customer_city,
        upper(customer_state) as customer_state,
        -- lineage
        {{ civiclake.bronze_lineage_columns() }}
    from source
)

select * from renamed
