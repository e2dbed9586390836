{#- RFM per customer (the person, customer_unique_id), as of the day after the last order in the data: the
    history is closed, and a fixed reference keeps the scores reproducible. Recency and monetary scores are
    quintiles (ties broken by the customer id), frequency scores count orders (see frequency_score). -#}
with orders as (
    select * from {{ ref('int_olist_orders_enriched') }}
    where is_sale and customer_unique_id is not null
),

reference as (
    select max(order_date) as last_order_date
    from orders
),

customers as (
    select
        orders.customer_unique_id,
        {{ civiclake.days_between('max(orders.order_date)', 'max(reference.last_order_date)') }} + 1 as recency_days,
        count(*) as frequency,
        sum(orders.order_revenue) as monetary
    from orders
    cross join reference
    group by orders.customer_unique_id
),

scored as (
    select
        customers.*,
        ntile(5) over (order by recency_days desc, customer_unique_id) as recency_score,
        {{ civiclake.frequency_score('frequency') }} as frequency_score,
        ntile(5) over (order by monetary, customer_unique_id) as monetary_score
    from customers
),

final as (
    select
        customer_unique_id,
        cast(recency_days as integer) as recency_days,
        cast(frequency as bigint) as frequency,
        cast(monetary as decimal(18, 2)) as monetary,
        {{ civiclake.rfm_segment('recency_score', 'frequency_score', 'monetary_score') }} as rfm_segment
    from scored
)

select * from final
