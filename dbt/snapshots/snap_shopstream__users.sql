{#- ShopStream accounts as slowly changing dimension (type 2): a row per version of an account, valid from
    dbt_valid_from to dbt_valid_to (null while current). A change of plan, status, country... closes the
    previous row; an account deleted at the source gets its row closed (hard_deletes: invalidate). History
    starts with the first snapshot: bronze holds the versions extracted since, the snapshot those it saw. -#}
{% snapshot snap_shopstream__users %}
{{
    config(
        unique_key='user_id',
        strategy='timestamp',
        updated_at='updated_at',
        hard_deletes='invalidate'
    )
}}
select
    user_id,
    country_code,
    city,
    signup_channel,
    plan,
    user_status,
    created_at,
    updated_at
from {{ ref('int_shopstream_users_merged') }}
where not is_deleted
{% endsnapshot %}
