with source as (
    select * from {{ source('datagouv', 'gares__liste_des_gares') }}
),

current_file as (
    {{ civiclake.current_file_rows('source') }}
),

renamed as (
    select
        -- ids
        {{ civiclake.to_text('code_uic') }} as station_uic_code,
        {{ civiclake.to_text('code_ligne') }} as line_code,
        {{ civiclake.to_text('idreseau') }} as network_id,
        {{ civiclake.to_text('idgaia') }} as gaia_id,
        -- attributes
        libelle as station_name,
        commune as commune_name,
        departemen as department_name,
        {{ civiclake.to_boolean('voyageurs') }} as is_passenger_station,
        {{ civiclake.to_boolean('fret') }} as is_freight_station,
        {{ civiclake.to_bigint('rg_troncon') }} as line_section_rank,
        {{ civiclake.to_text('pk') }} as kilometre_point,
        -- coordinates
        {{ civiclake.to_double('x_wgs84') }} as longitude,
        {{ civiclake.to_double('y_wgs84') }} as latitude,
        {{ civiclake.to_double('x_l93') }} as x_lambert93,
        {{ civiclake.to_double('y_l93') }} as y_lambert93,
        -- lineage
        {{ civiclake.bronze_lineage_columns() }}
    from current_file
)

select * from renamed
