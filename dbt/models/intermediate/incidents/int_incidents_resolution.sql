{#- The definition of "resolved within 24 hours", made once; the metric model only adds it up.

    An incident's resolution time is its resolved_at, or its closed_at when it was closed without a
    resolution stamp. It is resolved within 24 hours when that time is at most 24 hours after opened_at.
    Incidents opened less than 24 hours before the data's "now" (the latest update extracted) and still
    unresolved cannot be judged yet: they are left out of the denominator (`is_24h_measurable` false). -#}
with incidents as (
    select * from {{ ref('int_incidents_merged') }}
),

reference as (
    select max(updated_at) as as_of from incidents
),

timed as (
    select
        incidents.*,
        coalesce(incidents.resolved_at, incidents.closed_at) as resolution_at,
        reference.as_of
    from incidents
    cross join reference
),

final as (
    select
        incident_id,
        opened_at,
        resolution_at,
        as_of,
        case
            when resolution_at is not null then {{ civiclake.seconds_between('opened_at', 'resolution_at') }} / 3600
        end as resolution_hours,
        case
            when resolution_at is not null
                then {{ civiclake.seconds_between('opened_at', 'resolution_at') }} <= 24 * 3600
            else false
        end as is_resolved_within_24h,
        resolution_at is not null or {{ civiclake.seconds_between('opened_at', 'as_of') }} > 24 * 3600
            as is_24h_measurable
    from timed
    where opened_at is not null
)

select * from final
