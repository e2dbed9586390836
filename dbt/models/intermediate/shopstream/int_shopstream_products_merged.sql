{#- One row per ShopStream product: its latest version. A tombstone (the row was deleted at the source) is
    kept as the latest version, flagged is_deleted: a late copy of an older version can then never bring the
    row back. Consumers read `where not is_deleted`. -#}
{{
    config(
        materialized='incremental',
        unique_key=['product_id'],
        incremental_strategy=civiclake.upsert_strategy(),
        on_schema_change='append_new_columns'
    )
}}
{%- set key_columns = ['product_id'] -%}
{%- set precedence = ['updated_at', '_extracted_at', '_ingested_at', '_row_number'] -%}

with {{ civiclake.changed_versions(ref('stg_shopstream__products'), key_columns, precedence) }},

final as (
    select
        product_id,
        sku,
        product_name,
        category,
        brand,
        merchant_id,
        is_active,
        unit_price,
        unit_cost,
        created_at,
        is_deleted,
        updated_at,
        _extracted_at,
        _ingested_at,
        _row_number,
        _batch_id,
        _raw_sha256
    from changed
)

select * from final
