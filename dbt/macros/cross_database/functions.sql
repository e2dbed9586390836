{#- Functions whose spelling or NULL handling differs between DuckDB and Trino. -#}

{#- The greatest of the non-null values, null when all are null. DuckDB's greatest() already skips nulls;
    Trino's returns null as soon as one argument is null, so each null is replaced by another argument. -#}
{% macro greatest_non_null(expressions) -%}
    {{ return(adapter.dispatch('greatest_non_null', 'civiclake')(expressions)) }}
{%- endmacro %}

{% macro default__greatest_non_null(expressions) -%}
    greatest(
    {%- for expression in expressions %}
        coalesce({{ expression }}{% for other in expressions if other != expression %}, {{ other }}{% endfor %}){{ "," if not loop.last }}
    {%- endfor %}
    )
{%- endmacro %}

{% macro duckdb__greatest_non_null(expressions) -%}
    greatest({{ expressions | join(', ') }})
{%- endmacro %}

{#- Elapsed seconds from `start` to `finish` (two timestamps), as a double. date_diff cannot serve: DuckDB
    counts boundaries crossed where Trino counts whole units elapsed. -#}
{% macro seconds_between(start, finish) -%}
    {{ return(adapter.dispatch('seconds_between', 'civiclake')(start, finish)) }}
{%- endmacro %}

{% macro default__seconds_between(start, finish) -%}
    (date_diff('millisecond', {{ start }}, {{ finish }}) / 1000e0)
{%- endmacro %}

{% macro duckdb__seconds_between(start, finish) -%}
    ((epoch_ms({{ finish }}) - epoch_ms({{ start }})) / 1000e0)
{%- endmacro %}

{#- Whole days from one date to another (dates, not timestamps: no boundary ambiguity). -#}
{% macro days_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('days_between', 'civiclake')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__days_between(start_date, end_date) -%}
    date_diff('day', cast({{ start_date }} as date), cast({{ end_date }} as date))
{%- endmacro %}

{#- A name made comparable across files: upper case, no accents, a trailing article in parentheses moved to
    the front ("MUREAUX (LES)" is "LES MUREAUX"), punctuation as single spaces, SAINT/SAINTE abbreviated as
    La Poste writes them ("ST", "STE"). -#}
{% macro normalize_name(expression) -%}
    {{ return(adapter.dispatch('normalize_name', 'civiclake')(expression)) }}
{%- endmacro %}

{% macro default__normalize_name(expression) -%}
    trim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        upper(regexp_replace(normalize({{ expression }}, NFD), '\p{M}', '')),
        '^(.*?)\s*\((LE|LA|LES|L'')\s*\)\s*$', '$2 $1'),
        '[^A-Z0-9]+', ' '), '\bSAINTE\b', 'STE'), '\bSAINT\b', 'ST'))
{%- endmacro %}

{% macro duckdb__normalize_name(expression) -%}
    trim(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        upper(strip_accents({{ expression }})),
        '^(.*?)\s*\((LE|LA|LES|L'')\s*\)\s*$', '\2 \1'),
        '[^A-Z0-9]+', ' ', 'g'), '\bSAINTE\b', 'STE', 'g'), '\bSAINT\b', 'ST', 'g'))
{%- endmacro %}

{#- A text value from a JSON document held as text; null when the path is absent or the text not JSON. -#}
{% macro json_text(expression, path) -%}
    {{ return(adapter.dispatch('json_text', 'civiclake')(expression, path)) }}
{%- endmacro %}

{% macro default__json_text(expression, path) -%}
    json_extract_scalar(try(json_parse({{ expression }})), '{{ path }}')
{%- endmacro %}

{% macro duckdb__json_text(expression, path) -%}
    json_extract_string(try_cast({{ expression }} as json), '{{ path }}')
{%- endmacro %}

{#- One row per day from `first_day` to `last_day` (two scalar expressions, subqueries allowed), as a
    complete query with one column, `date_day`. -#}
{% macro days_from_to(first_day, last_day) -%}
    {{ return(adapter.dispatch('days_from_to', 'civiclake')(first_day, last_day)) }}
{%- endmacro %}

{% macro default__days_from_to(first_day, last_day) -%}
    select date_day
    from unnest(sequence(cast(({{ first_day }}) as date), cast(({{ last_day }}) as date), interval '1' day))
        as days (date_day)
{%- endmacro %}

{% macro duckdb__days_from_to(first_day, last_day) -%}
    select cast(unnest(generate_series(
        cast(({{ first_day }}) as timestamp), cast(({{ last_day }}) as timestamp), interval 1 day
    )) as date) as date_day
{%- endmacro %}

{#- A deterministic key from several columns (nulls and separators cannot collide). The expressions are cast
    to text, which both engines spell alike for text and integers only: pass a timestamp through
    timestamp_text, and keep doubles and decimals out of keys. -#}
{% macro surrogate_key(expressions) -%}
    {%- set parts = [] -%}
    {%- for expression in expressions -%}
        {%- do parts.append("coalesce(cast(" ~ expression ~ " as varchar), '<null>')") -%}
    {%- endfor -%}
    {{ dbt.hash(parts | join(" || '|' || ")) }}
{%- endmacro %}

{#- ISO day of the week of a date: 1 for Monday to 7 for Sunday. -#}
{% macro iso_day_of_week(expression) -%}
    {{ return(adapter.dispatch('iso_day_of_week', 'civiclake')(expression)) }}
{%- endmacro %}

{% macro default__iso_day_of_week(expression) -%}
    day_of_week({{ expression }})
{%- endmacro %}

{% macro duckdb__iso_day_of_week(expression) -%}
    isodow({{ expression }})
{%- endmacro %}

{#- A timestamp as text with all six fractional digits ("2024-01-31 10:00:00.120000"), for keys and hashes.
    A plain cast differs: Trino writes timestamp(6) with six digits, DuckDB drops trailing zeros
    ("2024-01-31 10:00:00.12"), so the same row would get another key on each engine. -#}
{% macro timestamp_text(expression) -%}
    {{ return(adapter.dispatch('timestamp_text', 'civiclake')(expression)) }}
{%- endmacro %}

{% macro default__timestamp_text(expression) -%}
    cast(cast({{ expression }} as {{ civiclake.type_timestamp() }}) as varchar)
{%- endmacro %}

{% macro duckdb__timestamp_text(expression) -%}
    strftime(cast({{ expression }} as timestamp), '%Y-%m-%d %H:%M:%S.%f')
{%- endmacro %}

{#- `numerator / denominator` as a double. Trino divides two decimals into a decimal of their larger scale
    (two money amounts give a ratio rounded to 0.01) where DuckDB returns a double; dividing doubles gives
    the same IEEE quotient on both. -#}
{% macro ratio(numerator, denominator) -%}
    (cast({{ numerator }} as double) / cast({{ denominator }} as double))
{%- endmacro %}

{#- A money amount (two decimals at most) divided by a positive count, rounded half up to the cent, as
    decimal(18, 2): an average order value. Trino divides decimals exactly and rounds half up; DuckDB divides
    them as doubles, and a double quotient a hair below the half cent (2260.41 / 6 is 376.734999...) rounds
    down, so DuckDB divides whole cents in integers instead. -#}
{% macro divide_money(amount, divisor) -%}
    {{ return(adapter.dispatch('divide_money', 'civiclake')(amount, divisor)) }}
{%- endmacro %}

{% macro default__divide_money(amount, divisor) -%}
    cast(cast({{ amount }} as decimal(38, 2)) / ({{ divisor }}) as decimal(18, 2))
{%- endmacro %}

{% macro duckdb__divide_money(amount, divisor) -%}
    {%- set cents = "cast(cast(" ~ amount ~ " as decimal(38, 2)) * 100 as hugeint)" -%}
    cast(
        cast(sign({{ cents }}) * ((abs({{ cents }}) * 2 + ({{ divisor }})) // (2 * ({{ divisor }}))) as decimal(36, 0))
        * cast(0.01 as decimal(2, 2))
        as decimal(18, 2)
    )
{%- endmacro %}
