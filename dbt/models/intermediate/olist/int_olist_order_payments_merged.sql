{#- One row per payment; payments carry no event time, so the latest extraction wins. -#}
{{
    config(
        materialized='incremental',
        unique_key=['order_id', 'payment_sequential'],
        incremental_strategy=civiclake.upsert_strategy(),
        on_schema_change='append_new_columns'
    )
}}
{%- set key_columns = ['order_id', 'payment_sequential'] -%}
{%- set precedence = ['_extracted_at', '_ingested_at', '_row_number'] -%}

with {{ civiclake.changed_versions(ref('stg_olist__order_payments'), key_columns, precedence) }},

final as (
    select
        order_id,
        payment_sequential,
        payment_type,
        payment_installments,
        payment_value,
        _extracted_at,
        _ingested_at,
        _row_number,
        _batch_id,
        _raw_sha256
    from changed
)

select * from final
