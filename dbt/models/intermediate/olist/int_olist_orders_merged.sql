{#- One row per order: its latest state. An order's event time is the latest of its purchase, approval, carrier
    and customer-delivery timestamps, so a state re-emitted late ("shipped" after "delivered") never wins. -#}
{{
    config(
        materialized='incremental',
        unique_key=['order_id'],
        incremental_strategy=civiclake.upsert_strategy(),
        on_schema_change='append_new_columns'
    )
}}
{%- set key_columns = ['order_id'] -%}
{%- set derived = {
    'event_at': civiclake.greatest_non_null(['purchased_at', 'approved_at', 'delivered_to_carrier_at', 'delivered_to_customer_at'])
} -%}
{%- set precedence = ['event_at', '_extracted_at', '_ingested_at', '_row_number'] -%}

with {{ civiclake.changed_versions(ref('stg_olist__orders'), key_columns, precedence, derived) }},

final as (
    select
        order_id,
        customer_id,
        order_status,
        purchased_at,
        approved_at,
        delivered_to_carrier_at,
        delivered_to_customer_at,
        estimated_delivery_at,
        event_at,
        _extracted_at,
        _ingested_at,
        _row_number,
        _batch_id,
        _raw_sha256
    from changed
)

select * from final
