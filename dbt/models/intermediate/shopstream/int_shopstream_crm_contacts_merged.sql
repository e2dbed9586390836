{#- One row per CRM contact: its latest version. A tombstone (the row was deleted at the source) is kept as
    the latest version, flagged is_deleted: a late copy of an older version can then never bring the row back.
    Consumers read `where not is_deleted`. -#}
{{
    config(
        materialized='incremental',
        unique_key=['crm_contact_id'],
        incremental_strategy=civiclake.upsert_strategy(),
        on_schema_change='append_new_columns'
    )
}}
{%- set key_columns = ['crm_contact_id'] -%}
{%- set precedence = ['updated_at', '_extracted_at', '_ingested_at', '_row_number'] -%}

with {{ civiclake.changed_versions(ref('stg_shopstream__crm_contacts'), key_columns, precedence) }},

final as (
    select
        crm_contact_id,
        user_id,
        email_pseudonym,
        company,
        job_title,
        lifecycle_stage,
        owner_pseudonym,
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
