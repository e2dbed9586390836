with source as (
    select * from {{ source('olist', 'products') }}
),

renamed as (
    select
        -- ids
        {{ civiclake.to_text('product_id') }} as product_id,
        -- attributes
        product_category_name,
        -- numerics (the file spells "lenght")
        cast({{ civiclake.to_bigint('product_name_lenght') }} as integer) as product_name_length,
        cast({{ civiclake.to_bigint('product_description_lenght') }} as integer) as product_description_length,
        cast({{ civiclake.to_bigint('product_photos_qty') }} as integer) as product_photo_count,
        {{ civiclake.to_bigint('product_weight_g') }} as product_weight_grams,
        {{ civiclake.to_bigint('product_length_cm') }} as product_length_cm,
        {{ civiclake.to_bigint('product_height_cm') }} as product_height_cm,
        {{ civiclake.to_bigint('product_width_cm') }} as product_width_cm,
        -- lineage
        {{ civiclake.bronze_lineage_columns() }}
    from source
)

select * from renamed
