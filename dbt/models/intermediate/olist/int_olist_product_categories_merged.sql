{#- One row per product category with its English name, the latest extraction winning. -#}
{{
    config(
        materialized='incremental',
        unique_key=['product_category_name'],
        incremental_strategy=civiclake.upsert_strategy(),
        on_schema_change='append_new_columns'
    )
}}
{%- set key_columns = ['product_category_name'] -%}
{%- set precedence = ['_extracted_at', '_ingested_at', '_row_number'] -%}

with {{ civiclake.changed_versions(ref('stg_olist__product_category_translations'), key_columns, precedence) }},

final as (
    select
        product_category_name,
        product_category_name_english,
        _extracted_at,
        _ingested_at,
        _row_number,
        _batch_id,
        _raw_sha256
    from changed
)

select * from final
