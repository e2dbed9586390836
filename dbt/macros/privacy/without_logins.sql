{#- Free text with the people's logins taken out. The incidents' summaries name the caller by their directory
    login ("Password reset for j.martin"): a login, an initial, a dot and a surname, becomes [login], so silver
    and gold keep what the incident was about without who raised it. An initial is a whole word, so host names
    (intranet.corp.local) and shares are left as they are. -#}
{% macro without_logins(column) -%}
    {{ return(adapter.dispatch('without_logins', 'civiclake')(column)) }}
{%- endmacro %}

{#- Trino's regexp_replace replaces every match. -#}
{% macro default__without_logins(column) -%}
    regexp_replace({{ column }}, '\b[a-z]\.[a-z]+\b', '[login]')
{%- endmacro %}

{#- DuckDB's replaces the first match unless told 'g'. -#}
{% macro duckdb__without_logins(column) -%}
    regexp_replace({{ column }}, '\b[a-z]\.[a-z]+\b', '[login]', 'g')
{%- endmacro %}
