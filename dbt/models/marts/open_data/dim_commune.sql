with communes as (
    select * from {{ ref('int_communes_aggregated') }}
),

final as (
    select
        commune_insee_code,
        commune_name,
        department_code,
        department_name,
        postal_codes,
        cast(postal_code_count as integer) as postal_code_count
    from communes
)

select * from final
