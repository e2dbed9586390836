"""The nine Olist files: their names and their exact headers (misspellings included)."""

from __future__ import annotations

HEADERS: dict[str, tuple[str, ...]] = {
    "customers": (
        "customer_id",
        "customer_unique_id",
        "customer_zip_code_prefix",
        "customer_city",
        "customer_state",
    ),
    "geolocation": (
        "geolocation_zip_code_prefix",
        "geolocation_lat",
        "geolocation_lng",
        "geolocation_city",
        "geolocation_state",
    ),
    "order_items": (
        "order_id",
        "order_item_id",
        "product_id",
        "seller_id",
        "shipping_limit_date",
        "price",
        "freight_value",
    ),
    "order_payments": ("order_id", "payment_sequential", "payment_type", "payment_installments", "payment_value"),
    "order_reviews": (
        "review_id",
        "order_id",
        "review_score",
        "review_comment_title",
        "review_comment_message",
        "review_creation_date",
        "review_answer_timestamp",
    ),
    "orders": (
        "order_id",
        "customer_id",
        "order_status",
        "order_purchase_timestamp",
        "order_approved_at",
        "order_delivered_carrier_date",
        "order_delivered_customer_date",
        "order_estimated_delivery_date",
    ),
    "products": (
        "product_id",
        "product_category_name",
        "product_name_lenght",  # sic: Olist's own spelling, kept so that real and generated files agree
        "product_description_lenght",  # sic
        "product_photos_qty",
        "product_weight_g",
        "product_length_cm",
        "product_height_cm",
        "product_width_cm",
    ),
    "sellers": ("seller_id", "seller_zip_code_prefix", "seller_city", "seller_state"),
    "product_category_name_translation": ("product_category_name", "product_category_name_english"),
}

TRANSLATION = "product_category_name_translation"


def file_name(entity: str) -> str:
    """``olist_<entity>_dataset.csv``, except the translation table, which Olist names on its own."""
    return f"{TRANSLATION}.csv" if entity == TRANSLATION else f"olist_{entity}_dataset.csv"


FILE_NAMES: dict[str, str] = {entity: file_name(entity) for entity in HEADERS}
ENTITY_OF_FILE: dict[str, str] = {name: entity for entity, name in FILE_NAMES.items()}
