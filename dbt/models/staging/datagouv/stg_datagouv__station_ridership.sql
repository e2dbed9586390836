{#- Still one column per year, as in the file: int_station_ridership_unpivoted makes it one row per year.
    A year column missing from the file fails this view loudly: add new years to `ridership_years`. -#}
with source as (
    select * from {{ source('datagouv', 'frequentation_gares__frequentation_en_gares_2015_2022') }}
),

current_file as (
    {{ civiclake.current_file_rows('source') }}
),

renamed as (
    select
        -- ids
        {{ civiclake.to_text('code_uic') }} as station_uic_code,
        -- attributes
        nom_de_la_gare_2 as station_name,
        {{ civiclake.to_text('code_postal') }} as postal_code,
        {{ civiclake.to_text('code_postal_2') }} as department_code,
        segmentation_drg as drg_segment,
        -- numerics
        {%- for year in var('ridership_years') %}
        {{ civiclake.to_bigint('total_voyageurs_' ~ year) }} as travellers_{{ year }},
        {{ civiclake.to_bigint('total_voyageurs_non_voyageurs_' ~ year) }} as travellers_and_non_travellers_{{ year }},
        {%- endfor %}
        -- lineage
        {{ civiclake.bronze_lineage_columns() }}
    from current_file
)

select * from renamed
