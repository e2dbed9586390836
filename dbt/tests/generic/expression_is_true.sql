{#- Every row (or, with `column_name`, every value) satisfies `expression`: an invariant such as
    "revenue >= 0" or "delivered_at >= purchased_at". Rows where the expression is null fail too. -#}
{% test expression_is_true(model, expression, column_name=none) %}
    select *
    from {{ model }}
    where not coalesce(({{ column_name ~ ' ' if column_name }}{{ expression }}), false)
{% endtest %}
