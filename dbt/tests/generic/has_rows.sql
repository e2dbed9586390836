{#- The relation holds at least `min_rows` rows: an empty mart is a broken mart. -#}
{% test has_rows(model, min_rows=1) %}
    select row_count
    from (select count(*) as row_count from {{ model }}) as counted
    where row_count < {{ min_rows }}
{% endtest %}
