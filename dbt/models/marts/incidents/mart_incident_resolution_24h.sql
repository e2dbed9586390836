{#- The metric "share of incidents resolved within 24 hours", by day opened, priority and assignment group.
    Its definition lives in int_incidents_resolution; this model only counts. Numerator and denominator are
    kept: a rate over several days, priorities or groups is sum(resolved_within_24h) / sum(measurable), never
    an average of rates. -#}
with incidents as (
    select * from {{ ref('fct_incidents') }}
),

final as (
    select
        opened_date,
        priority,
        assignment_group,
        cast(count(*) as bigint) as incidents_opened,
        cast(sum(case when is_24h_measurable then 1 else 0 end) as bigint) as incidents_measurable,
        cast(sum(case when is_resolved_within_24h then 1 else 0 end) as bigint) as incidents_resolved_within_24h,
        case
            when sum(case when is_24h_measurable then 1 else 0 end) > 0
                then cast(sum(case when is_resolved_within_24h then 1 else 0 end) as double)
                    / sum(case when is_24h_measurable then 1 else 0 end)
        end as resolved_within_24h_rate
    from incidents
    group by opened_date, priority, assignment_group
)

select * from final
