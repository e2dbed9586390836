{#- One row per ShopStream order line: its latest version. A tombstone (the row was deleted at the source) is
    kept as the latest version, flagged is_deleted: a late copy of an older version can then never bring the
    row back. Consumers read `where not is_deleted`. -#}
{{
    config(
        materialized='incremental',
        unique_key=['order_item_id'],
        incremental_strategy=civiclake.upsert_strategy(),
        on_schema_change='append_new_columns'
    )
}}
{%- set key_columns = ['order_item_id'] -%}
{%- set precedence = ['updated_at', '_extracted_at', '_ingested_at', '_row_number'] -%}

with {{ civiclake.changed_versions(ref('stg_shopstream__order_items'), key_columns, precedence) }},

final as (
    select
        order_item_id,
        order_id,
        product_id,
        quantity,
        unit_price,
        discount_amount,
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
