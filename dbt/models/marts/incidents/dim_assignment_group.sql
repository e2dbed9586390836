with incidents as (
    select * from {{ ref('int_incidents_merged') }}
),

final as (
    select
        coalesce(assignment_group, 'unassigned') as assignment_group,
        cast(count(*) as bigint) as incident_count,
        min(opened_at) as first_incident_opened_at
    from incidents
    group by coalesce(assignment_group, 'unassigned')
)

select * from final
