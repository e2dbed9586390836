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
{%- set precedence = ['updated_at', '_extracted_at', '_row_number'] -%}

with bronze_versions as (
    select * from {{ ref('stg_incidents__incidents') }}
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
