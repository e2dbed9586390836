{#- One row per review of an order, its latest version by answer time, then extraction, then row. -#}
{{
    config(
        materialized='incremental',
        unique_key=['review_id', 'order_id'],
        incremental_strategy=civiclake.upsert_strategy(),
        on_schema_change='append_new_columns'
    )
}}
{%- set key_columns = ['review_id', 'order_id'] -%}
{%- set precedence = ['review_answered_at', '_extracted_at', '_ingested_at', '_row_number'] -%}

with {{ civiclake.changed_versions(ref('stg_olist__order_reviews'), key_columns, precedence) }},

final as (
    select
        review_id,
        order_id,
        review_score,
        review_comment_title,
        review_comment_message,
        review_created_at,
        review_answered_at,
        _extracted_at,
        _ingested_at,
        _row_number,
        _batch_id,
        _raw_sha256
    from changed
)

select * from final
