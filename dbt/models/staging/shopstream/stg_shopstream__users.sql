with source as (
    select * from {{ source('shopstream', 'users') }}
),

renamed as (
    select
        -- ids
        cast(id as bigint) as user_id,
        -- attributes
        -- personal data: pseudonyms only (keyed hashes; e-mails compared lower-cased and trimmed)
        {{ civiclake.pseudonymise('lower(trim(email))') }} as email_pseudonym,
        {{ civiclake.pseudonymise('full_name') }} as full_name_pseudonym,
        upper(country) as country_code,
        city,
        signup_channel,
        plan,
        status as user_status,
        -- timestamps
        {{ civiclake.utc_timestamp('created_at') }} as created_at,
        {{ civiclake.utc_timestamp('updated_at') }} as updated_at,
        -- lineage
        coalesce(_deleted, false) as is_deleted,
        {{ civiclake.bronze_lineage_columns() }}
    from source
)

select * from renamed
