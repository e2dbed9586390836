{#- Paid sales per product, ranked by revenue: ABC class on the cumulative share of revenue (A: the products
    making the first 80 %, B: up to 95 %, C: the rest) and price tier within the category (thirds of the
    category's list prices). Products never sold are class C with zero revenue. -#}
with products as (
    select * from {{ ref('dim_products') }}
),

items as (
    select * from {{ ref('fct_order_items') }}
    where is_revenue
),

sales as (
    select
        product_id,
        count(distinct order_id) as orders,
        sum(quantity) as quantity,
        sum(net_amount_eur) as revenue_eur,
        sum(margin_eur) as margin_eur
    from items
    group by product_id
),

ranked as (
    select
        products.product_id,
        products.sku,
        products.product_name,
        products.category,
        products.brand,
        products.unit_price,
        coalesce(sales.orders, 0) as orders,
        coalesce(sales.quantity, 0) as quantity,
        coalesce(sales.revenue_eur, 0) as revenue_eur,
        coalesce(sales.margin_eur, 0) as margin_eur,
        row_number() over (order by coalesce(sales.revenue_eur, 0) desc, products.product_id) as revenue_rank,
        sum(coalesce(sales.revenue_eur, 0)) over () as total_revenue_eur,
        sum(coalesce(sales.revenue_eur, 0)) over (
            order by coalesce(sales.revenue_eur, 0) desc, products.product_id
            rows between unbounded preceding and current row
        ) as cumulative_revenue_eur,
        ntile(3) over (partition by products.category order by products.unit_price, products.product_id)
            as price_third
    from products
    left join sales on sales.product_id = products.product_id
),

final as (
    select
        product_id,
        sku,
        product_name,
        category,
        brand,
        cast(orders as bigint) as orders,
        cast(quantity as bigint) as quantity,
        cast(revenue_eur as decimal(18, 2)) as revenue_eur,
        cast(margin_eur as decimal(18, 2)) as margin_eur,
        cast(revenue_rank as bigint) as revenue_rank,
        case when total_revenue_eur > 0 then {{ civiclake.ratio('revenue_eur', 'total_revenue_eur') }} else 0e0 end
            as revenue_share,
        case
            when total_revenue_eur > 0 then {{ civiclake.ratio('cumulative_revenue_eur', 'total_revenue_eur') }}
            else 1e0
        end as cumulative_revenue_share,
        case
            when revenue_eur <= 0 then 'C'
            else {{ civiclake.abc_class(civiclake.ratio('cumulative_revenue_eur', 'total_revenue_eur')) }}
        end as abc_class,
        case price_third when 1 then 'budget' when 2 then 'standard' else 'premium' end as price_tier
    from ranked
)

select * from final
