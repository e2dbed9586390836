{#- One row per dataset and resource: is it loaded, how much, how fresh, late against what its publisher
    declares, and the last error. Datasets with nothing loadable (only documents or web pages) get one row
    without a resource, and are never late (as in `civiclake status`). -#}
with ingestions as (
    select * from {{ ref('stg_meta__ingestions') }}
),

dataset_snapshots as (
    select * from {{ ref('stg_meta__datasets') }}
),

frequencies as (
    select * from {{ ref('dataset_frequencies') }}
),

latest_datasets as (
    {{ civiclake.latest_version('dataset_snapshots', ['source', 'dataset_id'], ['synced_at']) }}
),

latest_attempts as (
    {{ civiclake.latest_version('ingestions', ['source', 'dataset_id', 'resource_id'], ['started_at', 'finished_at']) }}
),

latest_failures as (
    {{ civiclake.latest_version("(select * from ingestions where status in ('failed', 'refused'))", ['source', 'dataset_id', 'resource_id'], ['started_at']) }}
),

resources as (
    select
        source,
        dataset_id,
        resource_id,
        count(distinct table_name) as table_count,
        sum(case when status = 'loaded' then row_count else 0 end) as loaded_rows,
        max(case when status = 'loaded' then finished_at end) as last_loaded_at,
        max(case when status in ('loaded', 'unchanged') then finished_at end) as last_success_at,
        count(*) as attempt_count,
        sum(case when status in ('failed', 'refused') then 1 else 0 end) as failure_count
    from ingestions
    group by source, dataset_id, resource_id
),

resource_status as (
    select
        resources.*,
        latest_attempts.resource_title,
        latest_attempts.status as last_status,
        latest_failures.error_message as last_error,
        latest_failures.started_at as last_error_at
    from resources
    inner join latest_attempts
        on latest_attempts.source = resources.source
        and latest_attempts.dataset_id = resources.dataset_id
        and latest_attempts.resource_id = resources.resource_id
    left join latest_failures
        on latest_failures.source = resources.source
        and latest_failures.dataset_id = resources.dataset_id
        and latest_failures.resource_id = resources.resource_id
),

datasets_and_resources as (
    select
        coalesce(resource_status.source, latest_datasets.source) as source,
        coalesce(resource_status.dataset_id, latest_datasets.dataset_id) as dataset_id,
        -- A dataset-level row (empty resource id) is the dataset's own row: it failed at the source, or had
        -- nothing to load.
        nullif(resource_status.resource_id, '') as resource_id,
        resource_status.resource_title,
        latest_datasets.dataset_title,
        latest_datasets.organization_name,
        latest_datasets.declared_frequency,
        latest_datasets.last_modified_at_source,
        resource_status.last_loaded_at,
        resource_status.last_success_at,
        resource_status.last_status,
        resource_status.last_error,
        resource_status.last_error_at,
        coalesce(resource_status.loaded_rows, 0) as loaded_rows,
        coalesce(resource_status.table_count, 0) as table_count,
        coalesce(resource_status.attempt_count, 0) as attempt_count,
        coalesce(resource_status.failure_count, 0) as failure_count
    from resource_status
    full outer join latest_datasets
        on latest_datasets.source = resource_status.source
        and latest_datasets.dataset_id = resource_status.dataset_id
),

final as (
    select
        -- ids
        {{ civiclake.surrogate_key(['datasets_and_resources.source', 'datasets_and_resources.dataset_id', 'datasets_and_resources.resource_id']) }}
            as sync_status_id,
        datasets_and_resources.source,
        datasets_and_resources.dataset_id,
        datasets_and_resources.resource_id,
        -- attributes
        datasets_and_resources.dataset_title,
        datasets_and_resources.organization_name,
        datasets_and_resources.resource_title,
        datasets_and_resources.declared_frequency,
        datasets_and_resources.last_status,
        datasets_and_resources.last_error,
        case
            when datasets_and_resources.resource_id is null or frequencies.period_hours is null then null
            when datasets_and_resources.last_success_at is null then true
            else {{ civiclake.seconds_between('datasets_and_resources.last_success_at', utc_now()) }}
                > (frequencies.period_hours + frequencies.grace_hours) * 3600
        end as is_late,
        -- numerics
        cast(datasets_and_resources.loaded_rows as bigint) as loaded_rows,
        cast(datasets_and_resources.table_count as integer) as table_count,
        cast(datasets_and_resources.attempt_count as integer) as attempt_count,
        cast(datasets_and_resources.failure_count as integer) as failure_count,
        {{ civiclake.seconds_between('datasets_and_resources.last_success_at', utc_now()) }} / 3600
            as freshness_lag_hours,
        frequencies.period_hours + frequencies.grace_hours as late_after_hours,
        -- timestamps
        datasets_and_resources.last_modified_at_source,
        datasets_and_resources.last_loaded_at,
        datasets_and_resources.last_success_at,
        datasets_and_resources.last_error_at
    from datasets_and_resources
    left join frequencies on frequencies.declared_frequency = datasets_and_resources.declared_frequency
)

select * from final
