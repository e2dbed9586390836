with ridership as (
    select * from {{ ref('int_station_ridership_unpivoted') }}
),

with_previous_year as (
    select
        ridership.*,
        lag(travellers) over (partition by station_uic_code order by ridership_year) as travellers_previous_year,
        lag(ridership_year) over (partition by station_uic_code order by ridership_year) as previous_year
    from ridership
),

final as (
    select
        -- ids
        station_uic_code,
        cast(ridership_year as integer) as calendar_year,
        -- attributes
        drg_segment,
        -- numerics
        cast(travellers as bigint) as travellers,
        cast(travellers_and_non_travellers as bigint) as travellers_and_non_travellers,
        cast(travellers_and_non_travellers - travellers as bigint) as non_travellers,
        case
            when previous_year = ridership_year - 1 and travellers_previous_year > 0
                then cast(travellers - travellers_previous_year as double) / travellers_previous_year
        end as travellers_change_rate
    from with_previous_year
)

select * from final
