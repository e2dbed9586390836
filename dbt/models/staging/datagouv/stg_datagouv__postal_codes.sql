with source as (
    select * from {{ source('datagouv', 'codes_postaux__base_officielle_des_codes_postaux') }}
),

current_file as (
    {{ civiclake.current_file_rows('source') }}
),

renamed as (
    select
        -- ids
        {{ civiclake.to_text('code_commune_insee') }} as commune_insee_code,
        {{ civiclake.to_text('code_postal') }} as postal_code,
        -- attributes
        nom_de_la_commune as commune_name,
        libelle_d_acheminement as delivery_label,
        ligne_5 as locality_name,
        -- lineage
        {{ civiclake.bronze_lineage_columns() }}
    from current_file
)

select * from renamed
