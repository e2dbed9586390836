{#- One row per day, the calendar MetricFlow joins metrics to (dbt's time spine, see semantic_layer.yml): it
    spans every domain's history with room ahead. Trino's sequence() stops at 10,000 elements: about 27 years. -#}
with days as (
    {{ civiclake.days_from_to("select date '2015-01-01'", "select date '2040-12-31'") }}
),

final as (
    select cast(date_day as date) as date_day
    from days
)

select * from final
