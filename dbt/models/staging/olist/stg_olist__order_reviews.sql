with source as (
    select * from {{ source('olist', 'order_reviews') }}
),

renamed as (
    select
        -- ids
        {{ civiclake.to_text('review_id') }} as review_id,
        {{ civiclake.to_text('order_id') }} as order_id,
        -- attributes
        review_comment_title,
        review_comment_message,
        -- numerics
        cast({{ civiclake.to_bigint('review_score') }} as integer) as review_score,
        -- timestamps
        {{ civiclake.to_timestamp('review_creation_date') }} as review_created_at,
        {{ civiclake.to_timestamp('review_answer_timestamp') }} as review_answered_at,
        -- lineage
        {{ civiclake.bronze_lineage_columns() }}
    from source
)

select * from renamed
