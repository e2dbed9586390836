{#- Customer lifetime value with RFM scores and segments (macro rfm_segment, the one Olist's gold uses) and a
    churn risk from the days since the last activity, as of the latest order in the data. Customers who never
    paid an order have no RFM scores and are "prospect" for churn. -#}
with customers as (
    select * from {{ ref('int_shopstream_customers_aggregated') }}
),

dimensions as (
    select * from {{ ref('dim_customers') }}
),

buyers as (
    select
        customers.*,
        {{ civiclake.days_between('customers.last_order_at', 'customers.as_of') }} as recency_days
    from customers
    where order_count > 0
),

scored as (
    select
        customer_id,
        ntile(5) over (order by recency_days desc, customer_id) as recency_score,
        {{ civiclake.frequency_score('order_count') }} as frequency_score,
        ntile(5) over (order by lifetime_value_eur, customer_id) as monetary_score
    from buyers
),

final as (
    select
        -- ids
        customers.customer_id,
        -- attributes
        dimensions.customer_segment,
        dimensions.plan,
        dimensions.country_code,
        case
            when scored.customer_id is null then null
            else {{ civiclake.rfm_segment('scored.recency_score', 'scored.frequency_score', 'scored.monetary_score') }}
        end as rfm_segment,
        case
            when customers.order_count = 0 then 'prospect'
            when {{ civiclake.days_between('customers.last_activity_at', 'customers.as_of') }}
                >= {{ var('shopstream_churned_days') }} then 'churned'
            when {{ civiclake.days_between('customers.last_activity_at', 'customers.as_of') }}
                >= {{ var('shopstream_churn_risk_days') }} then 'at_risk'
            else 'active'
        end as churn_risk,
        -- numerics
        cast(scored.recency_score as integer) as recency_score,
        cast(scored.frequency_score as integer) as frequency_score,
        cast(scored.monetary_score as integer) as monetary_score,
        cast({{ civiclake.days_between('customers.last_order_at', 'customers.as_of') }} as integer) as recency_days,
        cast(customers.order_count as bigint) as order_count,
        cast(customers.lifetime_value_eur as decimal(18, 2)) as lifetime_value_eur,
        cast(customers.lifetime_margin_eur as decimal(18, 2)) as lifetime_margin_eur,
        case
            when customers.order_count > 0
                then {{ civiclake.divide_money('customers.lifetime_value_eur', 'customers.order_count') }}
        end as average_order_value_eur,
        cast({{ civiclake.days_between('customers.created_at', 'customers.as_of') }} as integer) as tenure_days,
        -- timestamps
        customers.last_order_at,
        customers.last_activity_at
    from customers
    left join scored on scored.customer_id = customers.customer_id
    left join dimensions on dimensions.customer_id = customers.customer_id
)

select * from final
