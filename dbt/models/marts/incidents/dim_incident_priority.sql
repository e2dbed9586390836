with priorities as (
    select * from {{ ref('incident_priorities') }}
),

final as (
    select
        cast(priority as integer) as priority,
        priority_label,
        cast(resolution_target_hours as integer) as resolution_target_hours
    from priorities
)

select * from final
