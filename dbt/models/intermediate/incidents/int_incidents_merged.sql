{#- One row per incident: its latest version by sys_updated_on, then extraction, then row. Incremental like
    the other merged entities: each run reads the bronze rows ingested since the last one and replaces an
    incident only with a strictly newer version. -#}
{{
    config(
        materialized='incremental',
        unique_key=['incident_id'],
        incremental_strategy=civiclake.upsert_strategy(),
        on_schema_change='append_new_columns'
    )
}}
{%- set key_columns = ['incident_id'] -%}
{%- set precedence = ['updated_at', '_extracted_at', '_ingested_at', '_row_number'] -%}

with {{ civiclake.changed_versions(ref('stg_incidents__incidents'), key_columns, precedence) }},

final as (
    select
        incident_id,
        incident_number,
        short_description,
        category,
        assignment_group,
        incident_state,
        close_code,
        priority,
        impact,
        urgency,
        modification_count,
        opened_at,
        resolved_at,
        closed_at,
        created_at,
        updated_at,
        _extracted_at,
        _ingested_at,
        _row_number,
        _batch_id,
        _raw_sha256
    from changed
)

select * from final
