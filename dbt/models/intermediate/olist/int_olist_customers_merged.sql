{#- One row per customer id, the latest extraction winning. -#}
{{
    config(
        materialized='incremental',
        unique_key=['customer_id'],
        incremental_strategy=civiclake.upsert_strategy(),
        on_schema_change='append_new_columns'
    )
}}
{%- set key_columns = ['customer_id'] -%}
{%- set precedence = ['_extracted_at', '_ingested_at', '_row_number'] -%}

with {{ civiclake.changed_versions(ref('stg_olist__customers'), key_columns, precedence) }},

final as (
    select
        customer_id,
        customer_unique_id,
        customer_zip_code_prefix,
        customer_city,
        customer_state,
        _extracted_at,
        _ingested_at,
        _row_number,
        _batch_id,
        _raw_sha256
    from changed
)

select * from final
