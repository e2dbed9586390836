with incidents as (
    select * from {{ ref('int_incidents_merged') }}
),

final as (
    select
        coalesce(category, 'unknown') as category,
        cast(count(*) as bigint) as incident_count
    from incidents
    group by coalesce(category, 'unknown')
)

select * from final
