with source as (
    select * from {{ source('shopstream', 'events') }}
),

renamed as (
    select
        -- ids
        cast(id as bigint) as event_id,
        cast(user_id as bigint) as user_id,
        {{ civiclake.to_text('session_id') }} as session_id,
        -- attributes
        event_type,
        {{ civiclake.to_text('metadata') }} as metadata_json,
        -- timestamps
        {{ civiclake.utc_timestamp('occurred_at') }} as occurred_at,
        {{ civiclake.utc_timestamp('created_at') }} as created_at,
        {{ civiclake.utc_timestamp('updated_at') }} as updated_at,
        -- lineage
        coalesce(_deleted, false) as is_deleted,
        {{ civiclake.bronze_lineage_columns() }}
    from source
)

select * from renamed
