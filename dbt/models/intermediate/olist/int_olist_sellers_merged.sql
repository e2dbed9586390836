{#- One row per seller, the latest extraction winning. -#}
{{
    config(
        materialized='incremental',
        unique_key=['seller_id'],
        incremental_strategy=civiclake.upsert_strategy(),
        on_schema_change='append_new_columns'
    )
}}
{%- set key_columns = ['seller_id'] -%}
{%- set precedence = ['_extracted_at', '_ingested_at', '_row_number'] -%}

with {{ civiclake.changed_versions(ref('stg_olist__sellers'), key_columns, precedence) }},

final as (
    select
        seller_id,
        seller_zip_code_prefix,
        seller_city,
        seller_state,
        _extracted_at,
        _ingested_at,
        _row_number,
        _batch_id,
        _raw_sha256
    from changed
)

select * from final
