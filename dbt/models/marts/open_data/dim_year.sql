with ridership as (
    select * from {{ ref('int_station_ridership_unpivoted') }}
),

years as (
    select distinct ridership_year as calendar_year
    from ridership
),

final as (
    select
        cast(calendar_year as integer) as calendar_year,
        cast(cast(calendar_year as varchar) || '-01-01' as date) as first_day,
        cast(cast(calendar_year as varchar) || '-12-31' as date) as last_day,
        (mod(calendar_year, 4) = 0 and (mod(calendar_year, 100) <> 0 or mod(calendar_year, 400) = 0)) as is_leap_year,
        -- 2020 and 2021: rail travel under COVID-19 restrictions, a break in every series
        calendar_year in (2020, 2021) as is_covid_year
    from years
)

select * from final
