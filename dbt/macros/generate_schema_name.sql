{#- Models land in the schema they name (silver, gold) on every target, not in "<target schema>_<name>":
    the schemas are the lakehouse's layers, shared by DuckDB, Trino and `civiclake sql`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
