with source as (
    select * from {{ source('civiclake_meta', 'datasets') }}
),

renamed as (
    select
        -- ids
        batch_id,
        source,
        dataset_id,
        -- attributes
        slug as dataset_slug,
        title as dataset_title,
        organization as organization_name,
        frequency as declared_frequency,
        page_url,
        -- numerics
        resources_selected,
        resources_skipped,
        -- timestamps
        {{ civiclake.iso8601_to_utc('last_modified') }} as last_modified_at_source,
        {{ civiclake.utc_timestamp('synced_at') }} as synced_at
    from source
)

select * from renamed
