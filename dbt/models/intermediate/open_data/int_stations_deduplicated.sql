{#- One row per station: SNCF lists a station once per railway line; the passenger line, then the lowest
    line code and section, give the row kept. Some stations are listed twice on the same line section, a few
    metres apart: the first of them in the file wins, so that every engine keeps the same row. -#}
with stations as (
    select * from {{ ref('stg_datagouv__stations') }}
),

ranked as (
    select
        stations.*,
        row_number() over (
            partition by station_uic_code
            order by is_passenger_station desc nulls last, line_code, line_section_rank, _row_number
        ) as line_rank,
        count(*) over (partition by station_uic_code) as line_count
    from stations
),

final as (
    select
        station_uic_code,
        station_name,
        commune_name,
        department_name,
        is_passenger_station,
        is_freight_station,
        line_count,
        longitude,
        latitude,
        x_lambert93,
        y_lambert93,
        _extracted_at
    from ranked
    where line_rank = 1
)

select * from final
