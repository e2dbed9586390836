with ingestions as (
    select * from {{ ref('stg_meta__ingestions') }}
),

final as (
    select
        -- ids
        {{ civiclake.surrogate_key([
            'batch_id', 'source', 'dataset_id', 'resource_id', 'resource_part', 'raw_sha256',
            civiclake.timestamp_text('started_at')
        ]) }} as ingestion_id,
        batch_id,
        source,
        dataset_id,
        resource_id,
        -- attributes
        dataset_slug,
        resource_title,
        resource_part,
        table_name,
        file_format,
        file_encoding,
        status,
        status in ('loaded', 'unchanged') as is_success,
        error_message,
        raw_path,
        raw_sha256,
        -- numerics
        cast(row_count as bigint) as row_count,
        cast(raw_bytes as bigint) as raw_bytes,
        download_seconds,
        load_seconds,
        {{ civiclake.seconds_between('started_at', 'finished_at') }} as duration_seconds,
        -- timestamps
        cast(started_at as date) as ingestion_date,
        extracted_at,
        started_at,
        finished_at
    from ingestions
)

select * from final
