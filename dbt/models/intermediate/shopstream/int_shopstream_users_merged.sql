{#- One row per ShopStream account: its latest version by updated_at, then extraction, then row. A tombstone
    (the row was deleted at the source) is kept as the latest version, flagged is_deleted: a late copy of an
    older version can then never bring the row back. Consumers read `where not is_deleted`. -#}
{{
    config(
        materialized='incremental',
        unique_key=['user_id'],
        incremental_strategy=civiclake.upsert_strategy(),
        on_schema_change='append_new_columns'
    )
}}
{%- set key_columns = ['user_id'] -%}
{%- set precedence = ['updated_at', '_extracted_at', '_ingested_at', '_row_number'] -%}

with {{ civiclake.changed_versions(ref('stg_shopstream__users'), key_columns, precedence) }},

final as (
    select
        user_id,
        email_pseudonym,
        full_name_pseudonym,
        country_code,
        city,
        signup_channel,
        plan,
        user_status,
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
