with source as (
    select * from {{ source('incidents', 'incident') }}
),

renamed as (
    select
        -- ids
        {{ civiclake.to_text('sys_id') }} as incident_id,
        {{ civiclake.to_text('number') }} as incident_number,
        -- attributes
        {{ civiclake.without_logins(civiclake.to_text('short_description')) }} as short_description,
        lower({{ civiclake.to_text('category') }}) as category,
        {{ civiclake.to_text('assignment_group') }} as assignment_group,
        lower({{ civiclake.to_text('state') }}) as incident_state,
        {{ civiclake.to_text('close_code') }} as close_code,
        -- numerics
        cast({{ civiclake.to_bigint('priority') }} as integer) as priority,
        cast({{ civiclake.to_bigint('impact') }} as integer) as impact,
        cast({{ civiclake.to_bigint('urgency') }} as integer) as urgency,
        cast({{ civiclake.to_bigint('sys_mod_count') }} as integer) as modification_count,
        -- timestamps (UTC)
        {{ civiclake.to_timestamp('opened_at') }} as opened_at,
        {{ civiclake.to_timestamp('resolved_at') }} as resolved_at,
        {{ civiclake.to_timestamp('closed_at') }} as closed_at,
        {{ civiclake.to_timestamp('sys_created_on') }} as created_at,
        {{ civiclake.to_timestamp('sys_updated_on') }} as updated_at,
        -- lineage
        {{ civiclake.bronze_lineage_columns() }}
    from source
)

select * from renamed
