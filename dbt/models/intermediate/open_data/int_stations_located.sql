{#- Every station of either SNCF file, placed in its commune.

    SNCF's station list names the commune and the department ("SAINT-REMY-EN-L'EAU", "OISE"), not their
    INSEE codes: a station is matched to the commune of the same normalised name in the same department
    when exactly one commune matches. Otherwise (Paris and its arrondissements, renamed communes), the postal
    code from the ridership file decides when it belongs to a single commune. Stations neither way are left
    without a commune. -#}
with listed_stations as (
    select * from {{ ref('int_stations_deduplicated') }}
),

ridership as (
    select * from {{ ref('stg_datagouv__station_ridership') }}
    where station_uic_code is not null
),

communes as (
    select * from {{ ref('int_communes_aggregated') }}
),

postal_codes as (
    select * from {{ ref('stg_datagouv__postal_codes') }}
),

departments as (
    select
        department_code,
        department_name,
        {{ civiclake.normalize_name('department_name') }} as department_name_normalized
    from {{ ref('french_departments') }}
),

ridership_postal_codes as (
    select
        station_uic_code,
        min(station_name) as station_name,
        -- the file lost the leading zero of some codes ("9120" for 09120)
        min(lpad(postal_code, 5, '0')) as postal_code
    from ridership
    group by station_uic_code
),

all_stations as (
    select
        coalesce(listed_stations.station_uic_code, ridership_postal_codes.station_uic_code) as station_uic_code,
        coalesce(listed_stations.station_name, ridership_postal_codes.station_name) as station_name,
        listed_stations.commune_name as listed_commune_name,
        listed_stations.department_name as listed_department_name,
        ridership_postal_codes.postal_code,
        listed_stations.is_passenger_station,
        listed_stations.is_freight_station,
        listed_stations.line_count,
        listed_stations.longitude,
        listed_stations.latitude,
        listed_stations.x_lambert93,
        listed_stations.y_lambert93,
        listed_stations.station_uic_code is not null as is_in_station_list,
        ridership_postal_codes.station_uic_code is not null as has_ridership
    from listed_stations
    full outer join ridership_postal_codes
        on ridership_postal_codes.station_uic_code = listed_stations.station_uic_code
),

name_matches as (
    select
        all_stations.station_uic_code,
        min(communes.commune_insee_code) as commune_insee_code,
        count(*) as candidate_count
    from all_stations
    inner join departments
        on departments.department_name_normalized = {{ civiclake.normalize_name('all_stations.listed_department_name') }}
    inner join communes
        on communes.department_code = departments.department_code
        and communes.commune_name_normalized = {{ civiclake.normalize_name('all_stations.listed_commune_name') }}
    group by all_stations.station_uic_code
),

communes_per_postal_code as (
    select
        postal_code,
        min(commune_insee_code) as commune_insee_code,
        count(distinct commune_insee_code) as candidate_count
    from postal_codes
    group by postal_code
),

final as (
    select
        all_stations.station_uic_code,
        all_stations.station_name,
        case
            when name_matches.candidate_count = 1 then name_matches.commune_insee_code
            when communes_per_postal_code.candidate_count = 1 then communes_per_postal_code.commune_insee_code
        end as commune_insee_code,
        case
            when name_matches.candidate_count = 1 then 'name_and_department'
            when communes_per_postal_code.candidate_count = 1 then 'postal_code'
            else 'unmatched'
        end as commune_match,
        all_stations.listed_commune_name,
        all_stations.listed_department_name,
        all_stations.postal_code,
        all_stations.is_passenger_station,
        all_stations.is_freight_station,
        all_stations.line_count,
        all_stations.longitude,
        all_stations.latitude,
        all_stations.x_lambert93,
        all_stations.y_lambert93,
        all_stations.is_in_station_list,
        all_stations.has_ridership
    from all_stations
    left join name_matches on name_matches.station_uic_code = all_stations.station_uic_code
    left join communes_per_postal_code on communes_per_postal_code.postal_code = all_stations.postal_code
)

select * from final
