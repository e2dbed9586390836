{#- One row per order item, its latest version by shipping limit, then extraction, then row in the batch. -#}
{{
    config(
        materialized='incremental',
        unique_key=['order_id', 'order_item_id'],
        incremental_strategy=civiclake.upsert_strategy(),
        on_schema_change='append_new_columns'
    )
}}
{%- set key_columns = ['order_id', 'order_item_id'] -%}
{%- set precedence = ['shipping_limit_at', '_extracted_at', '_ingested_at', '_row_number'] -%}

with {{ civiclake.changed_versions(ref('stg_olist__order_items'), key_columns, precedence) }},

final as (
    select
        order_id,
        order_item_id,
        product_id,
        seller_id,
        price,
        freight_value,
        shipping_limit_at,
        _extracted_at,
        _ingested_at,
        _row_number,
        _batch_id,
        _raw_sha256
    from changed
)

select * from final
