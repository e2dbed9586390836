{#- The lineage columns every bronze row carries, typed for silver (naive UTC timestamps). Staging models
    keep them: they say which raw file a row came from, and the incremental models order versions by them. -#}
{% macro bronze_lineage_columns() -%}
        _source,
        _dataset_id,
        _resource_id,
        {{ civiclake.utc_timestamp('_extracted_at') }} as _extracted_at,
        {{ civiclake.utc_timestamp('_ingested_at') }} as _ingested_at,
        _raw_path,
        _raw_sha256,
        _batch_id,
        _row_number
{%- endmacro %}

{#- The rows of the most recently loaded raw file of a bronze table. data.gouv.fr resources are full
    snapshots appended to bronze at each change, so silver shows the current file only, not the union of
    every version ever downloaded. -#}
{% macro current_file_rows(relation) -%}
    select *
    from {{ relation }}
    where _raw_sha256 = (select max_by(_raw_sha256, _ingested_at) from {{ relation }})
{%- endmacro %}
