{#- Customer segment from RFM scores (each 1 to 5, 5 best: most recent, most frequent, highest spend).
    Frequency and monetary value are read together (their mean, "fm"): most customers buy once, so frequency
    alone separates little. Checked in this order: -#}
{#-   champions         recent, buy often and much          r >= 4 and fm >= 4
      loyal_customers   fairly recent, good value           r >= 3 and fm >= 3
      recent_customers  recent, low value so far            r >= 4
      needs_attention   middling recency, low value         r = 3
      cannot_lose_them  long gone, were among the best      fm >= 4
      at_risk           long gone, were good                fm >= 3
      hibernating       gone a while, low value             r = 2
      lost              gone longest, low value             otherwise -#}
{% macro rfm_segment(recency_score, frequency_score, monetary_score) -%}
    case
        when {{ recency_score }} >= 4 and ({{ frequency_score }} + {{ monetary_score }}) >= 8 then 'champions'
        when {{ recency_score }} >= 3 and ({{ frequency_score }} + {{ monetary_score }}) >= 6 then 'loyal_customers'
        when {{ recency_score }} >= 4 then 'recent_customers'
        when {{ recency_score }} = 3 then 'needs_attention'
        when ({{ frequency_score }} + {{ monetary_score }}) >= 8 then 'cannot_lose_them'
        when ({{ frequency_score }} + {{ monetary_score }}) >= 6 then 'at_risk'
        when {{ recency_score }} = 2 then 'hibernating'
        else 'lost'
    end
{%- endmacro %}

{#- The RFM segments rfm_segment can return, for accepted_values tests. -#}
{% macro rfm_segments() -%}
    {{ return(['champions', 'loyal_customers', 'recent_customers', 'needs_attention', 'cannot_lose_them',
               'at_risk', 'hibernating', 'lost']) }}
{%- endmacro %}

{#- Frequency score from a count of orders: 1 order scores 1, 5 or more score 5. Quintiles would split the
    many one-order customers at random. -#}
{% macro frequency_score(order_count) -%}
    cast(least({{ order_count }}, 5) as integer)
{%- endmacro %}

{#- ABC class of an item from the cumulative share of revenue reached up to and including it, items sorted
    by decreasing revenue: A up to 80 %, B up to 95 %, C beyond. -#}
{% macro abc_class(cumulative_revenue_share) -%}
    case
        when {{ cumulative_revenue_share }} <= 0.80 then 'A'
        when {{ cumulative_revenue_share }} <= 0.95 then 'B'
        else 'C'
    end
{%- endmacro %}
