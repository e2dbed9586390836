{#- One row per live ShopStream account with its paid orders and its last activity, as of the data's own
    "now": the latest order placed in the extraction (reproducible, and not fooled by a stale extraction). -#}
with users as (
    select * from {{ ref('int_shopstream_users_merged') }}
    where not is_deleted
),

items as (
    select * from {{ ref('int_shopstream_order_items_enriched') }}
),

events as (
    select * from {{ ref('int_shopstream_events_merged') }}
    where not is_deleted
),

orders as (
    select * from {{ ref('int_shopstream_orders_merged') }}
    where not is_deleted
),

reference as (
    select max(ordered_at) as as_of from orders
),

paid_orders as (
    select
        customer_id,
        order_id,
        min(ordered_at) as ordered_at,
        sum(net_amount_eur) as order_value_eur,
        sum(margin_eur) as order_margin_eur,
        sum(quantity) as quantity
    from items
    where is_revenue
    group by customer_id, order_id
),

customer_orders as (
    select
        customer_id,
        count(*) as order_count,
        sum(order_value_eur) as lifetime_value_eur,
        sum(order_margin_eur) as lifetime_margin_eur,
        sum(quantity) as quantity,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at
    from paid_orders
    group by customer_id
),

customer_events as (
    select
        user_id as customer_id,
        max(occurred_at) as last_event_at
    from events
    group by user_id
),

final as (
    select
        users.user_id as customer_id,
        users.country_code,
        users.city,
        users.signup_channel,
        users.plan,
        users.user_status,
        coalesce(customer_orders.order_count, 0) as order_count,
        coalesce(customer_orders.lifetime_value_eur, 0) as lifetime_value_eur,
        coalesce(customer_orders.lifetime_margin_eur, 0) as lifetime_margin_eur,
        cast(coalesce(customer_orders.quantity, 0) as bigint) as quantity,  -- DuckDB sums integers to hugeint
        customer_orders.first_order_at,
        customer_orders.last_order_at,
        customer_events.last_event_at,
        {{ civiclake.greatest_non_null(['customer_orders.last_order_at', 'customer_events.last_event_at']) }}
            as last_activity_at,
        users.created_at,
        reference.as_of
    from users
    cross join reference
    left join customer_orders on customer_orders.customer_id = users.user_id
    left join customer_events on customer_events.customer_id = users.user_id
)

select * from final
