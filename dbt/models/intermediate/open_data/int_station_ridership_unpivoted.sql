{#- One row per station and year out of the wide file. The file's name-only rows (no UIC code) carry no
    figures and are left out; so are years a station has no figure for. -#}
with ridership as (
    select * from {{ ref('stg_datagouv__station_ridership') }}
    where station_uic_code is not null
),

unpivoted as (
    {%- for year in var('ridership_years') %}
    select
        station_uic_code,
        {{ year }} as ridership_year,
        drg_segment,
        travellers_{{ year }} as travellers,
        travellers_and_non_travellers_{{ year }} as travellers_and_non_travellers
    from ridership
    where travellers_{{ year }} is not null or travellers_and_non_travellers_{{ year }} is not null
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

final as (
    select
        station_uic_code,
        cast(ridership_year as integer) as ridership_year,
        drg_segment,
        travellers,
        travellers_and_non_travellers
    from unpivoted
)

select * from final
