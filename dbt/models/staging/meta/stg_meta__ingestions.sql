with source as (
    select * from {{ source('civiclake_meta', 'ingestions') }}
),

renamed as (
    select
        -- ids
        batch_id,
        source,
        dataset_id,
        resource_id,
        raw_sha256,
        -- attributes
        dataset_slug,
        resource_title,
        part as resource_part,
        table_name,
        raw_path,
        format as file_format,
        encoding as file_encoding,
        status,
        error as error_message,
        -- numerics
        raw_bytes,
        rows as row_count,
        download_seconds,
        load_seconds,
        -- timestamps
        {{ civiclake.utc_timestamp('extracted_at') }} as extracted_at,
        {{ civiclake.utc_timestamp('started_at') }} as started_at,
        {{ civiclake.utc_timestamp('finished_at') }} as finished_at
    from source
)

select * from renamed
