with source as (
    select * from {{ source('shopstream', 'crm_contacts') }}
),

renamed as (
    select
        -- ids
        cast(id as bigint) as crm_contact_id,
        cast(user_id as bigint) as user_id,
        -- attributes
        -- personal data: pseudonyms only (keyed hashes; e-mails compared lower-cased and trimmed)
        {{ civiclake.pseudonymise('lower(trim(email))') }} as email_pseudonym,
        company,
        job_title,
        lifecycle_stage,
        {{ civiclake.pseudonymise('owner') }} as owner_pseudonym,
        -- timestamps
        {{ civiclake.utc_timestamp('created_at') }} as created_at,
        {{ civiclake.utc_timestamp('updated_at') }} as updated_at,
        -- lineage
        coalesce(_deleted, false) as is_deleted,
        {{ civiclake.bronze_lineage_columns() }}
    from source
)

select * from renamed
