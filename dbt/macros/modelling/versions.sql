{#- Versions of an entity in append-only bronze tables, where every extraction appends rows again.

    `precedence` is a list of columns, most significant first, compared descending with nulls lowest:
    for Olist orders [event_at, _extracted_at, _ingested_at, _row_number]. _extracted_at has whole seconds, and
    a sync can load two files of an entity within one second: their commit times (_ingested_at) tell the later
    file before row numbers are compared, or row 9 of the older file would beat row 2 of the newer one. -#}

{#- The newest row per key of `relation`. The ranking column `version_rank` (always 1) is kept so that
    the caller lists the columns it wants. -#}
{% macro latest_version(relation, key_columns, precedence) -%}
    select *
    from (
        select
            versions.*,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by {% for column in precedence %}{{ column }} desc nulls last{{ ", " if not loop.last }}{% endfor %}
            ) as version_rank
        from {{ relation }} as versions
    ) as ranked
    where version_rank = 1
{%- endmacro %}

{#- True when the row aliased `new` takes precedence over the row aliased `old`. -#}
{% macro is_newer_version(new, old, precedence) -%}
    (
    {%- for column in precedence %}
        {{ "or " if not loop.first }}(
            {%- for earlier in precedence[:loop.index0] -%}
                {{ new }}.{{ earlier }} is not distinct from {{ old }}.{{ earlier }} and {% endfor -%}
            ({{ new }}.{{ column }} > {{ old }}.{{ column }} or ({{ new }}.{{ column }} is not null and {{ old }}.{{ column }} is null)))
    {%- endfor %}
    )
{%- endmacro %}

{#- The rows of `candidates` (one per key) that must replace what the model's table holds: keys not stored
    yet, and keys whose stored version is older. A late record (an old state delivered again, a replayed
    batch) is older than or as old as the stored version and stops here, so a rerun changes nothing and
    MERGE never meets two source rows for one target row. -#}
{% macro newest_versions(candidates, key_columns, precedence) -%}
    select candidates.*
    from {{ candidates }} as candidates
    left join {{ this }} as stored
        on {% for key in key_columns %}{{ "and " if not loop.first }}stored.{{ key }} = candidates.{{ key }}{{ " " }}{% endfor %}
    where stored.{{ key_columns[0] }} is null
        or {{ civiclake.is_newer_version('candidates', 'stored', precedence) }}
{%- endmacro %}

{#- Bronze rows to look at in an incremental run: those ingested since the newest row the table holds,
    minus a safety margin for loads that committed out of order (rereading them is harmless). -#}
{% macro ingested_since_last_run(ingested_at_column='_ingested_at') -%}
    {{ ingested_at_column }} >= (
        select coalesce(max({{ ingested_at_column }}), cast('1900-01-01' as {{ civiclake.type_timestamp() }}))
        from {{ this }}
    ) - interval '{{ var("incremental_lookback_hours") }}' hour
{%- endmacro %}

{#- The CTEs every merged entity starts with, to follow with `with {{ ... }}, final as (...)`:
    `bronze_versions` (the staged rows; in an incremental run, those ingested since the last one), `latest`
    (the newest per key) and `changed` (the rows the table must take). `derived` adds columns computed on each
    staged row, {name: SQL expression}, for a precedence that needs one. -#}
{% macro changed_versions(staged, key_columns, precedence, derived={}) -%}
bronze_versions as (
    select
        staged.*{% for name, expression in derived.items() %},
        {{ expression }} as {{ name }}{% endfor %}
    from {{ staged }} as staged
    {%- if is_incremental() %}
    where {{ civiclake.ingested_since_last_run() }}
    {%- endif %}
),

latest as (
    {{ civiclake.latest_version('bronze_versions', key_columns, precedence) }}
),

changed as (
    {%- if is_incremental() %}
    {{ civiclake.newest_versions('latest', key_columns, precedence) }}
    {%- else %}
    select * from latest
    {%- endif %}
)
{%- endmacro %}
