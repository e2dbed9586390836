with incidents as (
    select * from {{ ref('int_incidents_merged') }}
),

resolution as (
    select * from {{ ref('int_incidents_resolution') }}
),

final as (
    select
        -- ids and dimension keys
        incidents.incident_id,
        incidents.incident_number,
        incidents.priority,
        coalesce(incidents.category, 'unknown') as category,
        coalesce(incidents.assignment_group, 'unassigned') as assignment_group,
        cast(incidents.opened_at as date) as opened_date,
        -- attributes
        incidents.short_description,
        incidents.incident_state,
        incidents.close_code,
        incidents.incident_state in ('new', 'in_progress', 'on_hold') as is_open,
        resolution.resolution_at is not null as is_resolved,
        resolution.is_resolved_within_24h,
        resolution.is_24h_measurable,
        -- numerics
        resolution.resolution_hours,
        incidents.modification_count,
        -- timestamps
        incidents.opened_at,
        incidents.resolved_at,
        incidents.closed_at,
        incidents.updated_at
    from incidents
    inner join resolution on resolution.incident_id = incidents.incident_id
)

select * from final
