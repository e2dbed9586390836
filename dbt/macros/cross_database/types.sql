{#- Portable casts. `try_cast` exists on both engines; a value that does not convert becomes null
    instead of failing the whole build, and a not_null test on the column reports it. -#}

{#- Microsecond timestamps everywhere: Trino's Iceberg connector stores microseconds (its bare `timestamp` means
    milliseconds) and DuckDB reads `timestamp(6)` as its own `timestamp`, so one spelling serves both engines,
    in casts and in contracts alike. -#}
{% macro type_timestamp() -%}
    timestamp(6)
{%- endmacro %}

{#- A naive UTC timestamp from a string ("2024-01-31 10:00:00"), a timestamp or a timestamp with time zone
    (both sessions run in UTC: the DuckDB profile sets it, Trino reads Iceberg's timestamptz as UTC). -#}
{% macro to_timestamp(expression) -%}
    try_cast({{ expression }} as {{ civiclake.type_timestamp() }})
{%- endmacro %}

{% macro to_date(expression) -%}
    try_cast({{ expression }} as date)
{%- endmacro %}

{% macro to_bigint(expression) -%}
    try_cast({{ expression }} as bigint)
{%- endmacro %}

{% macro to_double(expression) -%}
    try_cast({{ expression }} as double)
{%- endmacro %}

{% macro to_money(expression) -%}
    try_cast({{ expression }} as decimal(18, 2))
{%- endmacro %}

{% macro to_text(expression) -%}
    cast({{ expression }} as varchar)
{%- endmacro %}

{#- Booleans arrive as booleans (PostgreSQL), or as text from files: true/false, t/f, 1/0, yes/no, o/n. -#}
{% macro to_boolean(expression) -%}
    case lower(trim(cast({{ expression }} as varchar)))
        when 'true' then true when 't' then true when '1' then true when 'yes' then true when 'o' then true
        when 'false' then false when 'f' then false when '0' then false when 'no' then false when 'n' then false
    end
{%- endmacro %}

{#- Meta tables store timestamps with a time zone: silver and gold keep naive UTC timestamps. -#}
{% macro utc_timestamp(expression) -%}
    {{ return(adapter.dispatch('utc_timestamp', 'civiclake')(expression)) }}
{%- endmacro %}

{% macro default__utc_timestamp(expression) -%}
    cast({{ expression }} at time zone 'UTC' as {{ civiclake.type_timestamp() }})
{%- endmacro %}

{#- DuckDB: `timestamptz AT TIME ZONE 'UTC'` already is the naive UTC timestamp. -#}
{% macro duckdb__utc_timestamp(expression) -%}
    cast(timezone('UTC', {{ expression }}) as timestamp)
{%- endmacro %}

{#- The build's "now", as a naive UTC timestamp. -#}
{% macro utc_now() -%}
    {{ civiclake.utc_timestamp('current_timestamp') }}
{%- endmacro %}

{#- An ISO 8601 text with an offset ("2024-02-26T08:41:17.254000+00:00", data.gouv.fr's dates) as a naive UTC
    timestamp; null when it does not parse. -#}
{% macro iso8601_to_utc(expression) -%}
    {{ return(adapter.dispatch('iso8601_to_utc', 'civiclake')(expression)) }}
{%- endmacro %}

{#- Trino: from_iso8601_timestamp returns timestamp(3) with time zone and would drop the microseconds; the
    _nanos variant keeps them (timestamp(9)) but refuses a date without a time, which the millisecond variant
    reads as midnight, as DuckDB does. Digits past the microsecond ("18:19:42.518944931Z", a folder's mtime) are
    cut off before parsing: DuckDB truncates them, where Trino's cast to timestamp(6) would round (.518945). -#}
{% macro default__iso8601_to_utc(expression) -%}
    cast(
        coalesce(
            try(from_iso8601_timestamp_nanos(regexp_replace({{ expression }}, '(\.\d{6})\d+', '$1'))),
            try(from_iso8601_timestamp({{ expression }}))
        ) at time zone 'UTC' as {{ civiclake.type_timestamp() }}
    )
{%- endmacro %}

{% macro duckdb__iso8601_to_utc(expression) -%}
    timezone('UTC', try_cast({{ expression }} as timestamptz))
{%- endmacro %}
