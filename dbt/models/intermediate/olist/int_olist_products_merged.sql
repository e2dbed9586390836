{#- One row per product, the latest extraction winning. -#}
{{
    config(
        materialized='incremental',
        unique_key=['product_id'],
        incremental_strategy=civiclake.upsert_strategy(),
        on_schema_change='append_new_columns'
    )
}}
{%- set key_columns = ['product_id'] -%}
{%- set precedence = ['_extracted_at', '_ingested_at', '_row_number'] -%}

with {{ civiclake.changed_versions(ref('stg_olist__products'), key_columns, precedence) }},

final as (
    select
        product_id,
        product_category_name,
        product_name_length,
        product_description_length,
        product_photo_count,
        product_weight_grams,
        product_length_cm,
        product_height_cm,
        product_width_cm,
        _extracted_at,
        _ingested_at,
        _row_number,
        _batch_id,
        _raw_sha256
    from changed
)

select * from final
