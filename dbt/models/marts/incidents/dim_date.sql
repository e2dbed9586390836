{#- Every day from the first incident opened to the data's "now" (the latest update extracted), whether or
    not anything happened that day: daily charts show the empty days. -#}
with incidents as (
    select * from {{ ref('int_incidents_merged') }}
),

days as (
    {{ civiclake.days_from_to(
        'select cast(min(opened_at) as date) from incidents',
        'select cast(max(updated_at) as date) from incidents'
    ) }}
),

final as (
    select
        date_day,
        cast(extract(year from date_day) as integer) as calendar_year,
        cast(extract(month from date_day) as integer) as calendar_month,
        cast(extract(day from date_day) as integer) as day_of_month,
        cast({{ civiclake.iso_day_of_week('date_day') }} as integer) as iso_day_of_week,
        cast(date_trunc('week', date_day) as date) as week_start,
        cast(date_trunc('month', date_day) as date) as month_start,
        {{ civiclake.iso_day_of_week('date_day') }} >= 6 as is_weekend
    from days
)

select * from final
