with source as (
    select * from {{ source('olist', 'product_category_name_translation') }}
),

renamed as (
    select
        -- ids
        product_category_name,
        -- attributes
        product_category_name_english,
        -- lineage
        {{ civiclake.bronze_lineage_columns() }}
    from source
)

select * from renamed
