{#- One row per commune (INSEE code) out of La Poste's rows per postal code and locality. -#}
with postal_codes as (
    select * from {{ ref('stg_datagouv__postal_codes') }}
),

departments as (
    select * from {{ ref('french_departments') }}
),

distinct_postal_codes as (
    select distinct commune_insee_code, postal_code
    from postal_codes
),

postal_code_lists as (
    select
        commune_insee_code,
        {{ dbt.listagg("postal_code", "', '", "order by postal_code") }} as postal_codes,
        count(*) as postal_code_count
    from distinct_postal_codes
    group by commune_insee_code
),

names as (
    select
        commune_insee_code,
        min(commune_name) as commune_name
    from postal_codes
    group by commune_insee_code
),

communes as (
    select
        names.commune_insee_code,
        names.commune_name,
        {{ civiclake.normalize_name('names.commune_name') }} as commune_name_normalized,
        -- overseas departments have three-digit codes (971..976), the others two ("01", "2A")
        case
            when names.commune_insee_code like '97%' then substr(names.commune_insee_code, 1, 3)
            else substr(names.commune_insee_code, 1, 2)
        end as department_code,
        postal_code_lists.postal_codes,
        postal_code_lists.postal_code_count
    from names
    inner join postal_code_lists on postal_code_lists.commune_insee_code = names.commune_insee_code
),

final as (
    select
        communes.commune_insee_code,
        communes.commune_name,
        communes.commune_name_normalized,
        communes.department_code,
        departments.department_name,
        communes.postal_codes,
        communes.postal_code_count
    from communes
    left join departments on departments.department_code = communes.department_code
)

select * from final
