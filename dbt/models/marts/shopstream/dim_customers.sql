with customers as (
    select * from {{ ref('int_shopstream_customers_aggregated') }}
),

crm_contacts as (
    select * from {{ ref('int_shopstream_crm_contacts_merged') }}
    where not is_deleted and user_id is not null
),

latest_contacts as (
    {{ civiclake.latest_version('crm_contacts', ['user_id'], ['updated_at', 'crm_contact_id']) }}
),

final as (
    select
        -- ids
        customers.customer_id,
        -- attributes
        customers.country_code,
        customers.city,
        customers.signup_channel,
        customers.plan,
        customers.user_status,
        case
            when customers.order_count = 0 then 'prospect'
            when customers.lifetime_value_eur >= {{ var('shopstream_vip_lifetime_value') }} then 'vip'
            when customers.order_count >= 2 then 'repeat'
            else 'one_time'
        end as customer_segment,
        latest_contacts.lifecycle_stage as crm_lifecycle_stage,
        latest_contacts.company as crm_company,
        -- numerics
        cast(customers.order_count as bigint) as order_count,
        cast(customers.lifetime_value_eur as decimal(18, 2)) as lifetime_value_eur,
        cast(customers.lifetime_margin_eur as decimal(18, 2)) as lifetime_margin_eur,
        -- timestamps
        customers.first_order_at,
        customers.last_order_at,
        customers.last_activity_at,
        customers.created_at
    from customers
    left join latest_contacts on latest_contacts.user_id = customers.customer_id
)

select * from final
