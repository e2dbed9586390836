{#- How an incremental entity writes its new versions into the existing table. Trino: MERGE on the key (one
    statement, Iceberg's row-level update); DuckDB: delete+insert on the key in one transaction. The rows
    handed over are already one per key and strictly newer than the stored ones (see newest_versions),
    so both give the same table. -#}
{% macro upsert_strategy() -%}
    {{ return(adapter.dispatch('upsert_strategy', 'civiclake')()) }}
{%- endmacro %}

{% macro default__upsert_strategy() -%}
    {{ return('merge') }}
{%- endmacro %}

{% macro duckdb__upsert_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}
