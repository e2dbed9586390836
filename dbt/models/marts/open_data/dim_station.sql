with stations as (
    select * from {{ ref('int_stations_located') }}
),

communes as (
    select * from {{ ref('int_communes_aggregated') }}
),

final as (
    select
        -- ids
        stations.station_uic_code,
        stations.commune_insee_code,
        -- attributes
        stations.station_name,
        coalesce(communes.commune_name, upper(stations.listed_commune_name)) as commune_name,
        communes.department_code,
        coalesce(communes.department_name, stations.listed_department_name) as department_name,
        stations.commune_match,
        stations.is_passenger_station,
        stations.is_freight_station,
        stations.is_in_station_list,
        stations.has_ridership,
        cast(stations.line_count as integer) as line_count,
        -- coordinates
        stations.latitude,
        stations.longitude,
        stations.x_lambert93,
        stations.y_lambert93
    from stations
    left join communes on communes.commune_insee_code = stations.commune_insee_code
)

select * from final
