with source as (
    select * from {{ source('shopstream', 'crm_contacts') }}
),

renamed as (
    select
        -- ids
        cast(id as bigint) as crm_contact_id,
        cast(user_id as bigint) as user_id,
        -- attributes
        email,
        company,
        job_title,
        lifecycle_stage,
        owner as owner_name,
        -- timestamps
        {{ civiclake.utc_timestamp('created_at') }} as created_at,
        {{ civiclake.utc_timestamp('updated_at') }} as updated_at,
        -- lineage
        coalesce(_deleted, false) as is_deleted,
        {{ civiclake.bronze_lineage_columns() }}
    from source
)

select * from renamed
