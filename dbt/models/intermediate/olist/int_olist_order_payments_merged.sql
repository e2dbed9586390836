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
{%- set precedence = ['_extracted_at', '_row_number'] -%}

with bronze_versions as (
    select
        staged.*
    from {{ ref('stg_olist__order_payments') }} as staged
    {%- if is_incremental() %}
    where {{ civiclake.ingested_since_last_run() }}
    {%- endif %}
),

latest as (
    {{ civiclake.latest_version('bronze_versions', key_columns, precedence) }}
),

changed as (
    {%- if is_incremental() %}
    {{ civiclake.newest_versions('latest', key_columns, precedence) }}
    {%- else %}
    select * from latest
    {%- endif %}
),

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
