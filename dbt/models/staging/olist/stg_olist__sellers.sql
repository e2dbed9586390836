with source as (
    select * from {{ source('olist', 'sellers') }}
),

renamed as (
    select
        -- ids
        {{ civiclake.to_text('seller_id') }} as seller_id,
        -- attributes: zip prefixes are codes ("09790"), padded back when a reader made them numbers
        lpad({{ civiclake.to_text('seller_zip_code_prefix') }}, 5, '0') as seller_zip_code_prefix,
        seller_city,
        upper(seller_state) as seller_state,
        -- lineage
        {{ civiclake.bronze_lineage_columns() }}
    from source
)

select * from renamed
