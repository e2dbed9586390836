"""``civiclake replay olist``: Olist CSVs split into time-ordered micro-batches, with late and duplicate records.

The files of ``source`` (the real samples or generated ones) are written as
``<landing>/batch=0001/olist_orders_dataset.csv``... with the same header, the same bytes per record
(quoting, CRLF, BOM, no final line break: as in the input) and so the same CSV dialect.

Where each record goes:

- ``orders`` are ranked by ``order_purchase_timestamp`` and cut into batches of equal size, so every
  order of batch k was placed no later than any order of batch k+1.
- ``order_items``, ``order_payments`` and ``order_reviews`` travel with their order's batch;
  ``customers`` with their first order. Records whose order (or customer) is not in the orders file
  (the real samples are independent samples) are placed by their own time when they have one (an
  item's ``shipping_limit_date``, a review's ``review_creation_date``, against the batches' purchase
  times), otherwise by a hash of their key.
- ``products``, ``sellers``, ``geolocation`` and the category translation are reference data: first batch.

Then, seeded (same inputs and seed, same bytes):

- about ``late`` (5 %) of the records are re-emitted late: a copy of a record of batch k lands again
  1 to 3 batches later. For ``orders`` the late copy is an OLDER state of the order: its last lifecycle
  step is undone (``delivered`` becomes ``shipped`` with ``order_delivered_customer_date`` blank,
  ``shipped`` becomes ``invoiced`` without ``order_delivered_carrier_date``, an approved order becomes
  ``created``), so a newer state lands first and its stale version after it. Orders with no step to
  undo, and every other entity, are re-emitted as they were (reference data re-sent later, as a
  source re-sends the sellers and products an order refers to).
- about ``duplicates`` (2 %) are duplicated exactly, in the same batch or the next.

How to deduplicate (the rule the silver models implement): per entity, keep one row per key, the one
with the greatest event time, ties (and entities without an event time) going to the latest batch:

================================== =============================== ==============================================
entity                             key                             event time
================================== =============================== ==============================================
orders                             order_id                        greatest non-null of order_purchase_timestamp,
                                                                   order_approved_at,
                                                                   order_delivered_carrier_date,
                                                                   order_delivered_customer_date
order_items                        order_id, order_item_id         shipping_limit_date
order_reviews                      review_id, order_id             review_answer_timestamp
order_payments                     order_id, payment_sequential    none: the latest batch wins
customers                          customer_id                     none
sellers                            seller_id                       none
products                           product_id                      none
product_category_name_translation  product_category_name           none
geolocation                        none (a zip prefix has several  none
                                   points): exact duplicates only
================================== =============================== ==============================================
"""

from __future__ import annotations

import random
import shutil
import tempfile
import zlib
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from civiclake.demo.olist.csvio import DialectWriter, RawCsvReader, RawRecord, encode_record, quoted_flags
from civiclake.demo.olist.schema import ENTITY_OF_FILE, FILE_NAMES, TRANSLATION
from civiclake.errors import ConfigurationError, FormatError

# The dedup rule above, for code (tests, checks) that needs it.
ENTITY_KEYS: dict[str, tuple[str, ...]] = {
    "orders": ("order_id",),
    "order_items": ("order_id", "order_item_id"),
    "order_reviews": ("review_id", "order_id"),
    "order_payments": ("order_id", "payment_sequential"),
    "customers": ("customer_id",),
    "sellers": ("seller_id",),
    "products": ("product_id",),
    TRANSLATION: ("product_category_name",),
}
EVENT_TIME_COLUMNS: dict[str, tuple[str, ...]] = {
    "orders": (
        "order_purchase_timestamp",
        "order_approved_at",
        "order_delivered_carrier_date",
        "order_delivered_customer_date",
    ),
    "order_items": ("shipping_limit_date",),
    "order_reviews": ("review_answer_timestamp",),
}
REFERENCE_ENTITIES = ("products", "sellers", "geolocation", TRANSLATION)
# Entities in the order they are replayed: orders first, since everything else is placed from them.
REPLAY_ORDER = ("orders", "customers", "order_items", "order_payments", "order_reviews", *REFERENCE_ENTITIES)
MAX_LATE_DELAY = 3  # batches
# An order's lifecycle, last step first: the column a step sets and the status before it.
_LIFECYCLE_STEPS = (
    ("order_delivered_customer_date", "shipped"),
    ("order_delivered_carrier_date", "invoiced"),
    ("order_approved_at", "created"),
)


@dataclass
class ReplayReport:
    landing: Path
    batches: int
    rows: dict[str, list[int]] = field(default_factory=dict)  # entity -> rows written per batch, copies included
    originals: dict[str, int] = field(default_factory=dict)
    late: dict[str, int] = field(default_factory=dict)
    older_states: int = 0  # late orders re-emitted in an older state
    duplicates: dict[str, int] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)  # files of the source folder that are not Olist files
    first_batch: int = 1  # the number of the first folder written: a replay continues after the landing's batches

    @property
    def total_rows(self) -> int:
        return sum(sum(per_batch) for per_batch in self.rows.values())

    def batch_folder(self, batch: int) -> Path:
        """The folder of this replay's 1-based ``batch``."""
        return self.landing / batch_folder_name(self.first_batch + batch - 1)


def batch_folder_name(batch: int) -> str:
    return f"batch={batch:04d}"


def _batch_number(folder: Path) -> int:
    """The number in a ``batch=NNNN`` folder's name; 0 for a folder of that prefix that is not a replay's."""
    digits = folder.name.removeprefix("batch=")
    return int(digits) if digits.isdigit() else 0


def replay_olist(
    source: Path,
    landing: Path,
    batches: int,
    *,
    seed: int = 0,
    late: float = 0.05,
    duplicates: float = 0.02,
) -> ReplayReport:
    """Split the Olist files of ``source`` into ``batches`` folders under ``landing``."""
    if batches < 1:
        raise ConfigurationError(f"--batches must be at least 1, not {batches}")
    for name, share in (("--late", late), ("--duplicates", duplicates)):
        if not 0 <= share <= 0.5:
            raise ConfigurationError(f"{name} is a share of the records between 0 and 0.5, not {share}")
    present = {path.name: path for path in sorted(source.glob("*.csv"))} if source.is_dir() else {}
    if FILE_NAMES["orders"] not in present:
        raise ConfigurationError(f"{source} has no {FILE_NAMES['orders']}: the orders set the batches' time order")
    # A landing zone that already holds batches (the demo's, an earlier replay's) gets the next ones: the files
    # source loads each new file once, so replaying more data into the same zone is how a day of drops is played.
    first_batch = max((_batch_number(folder) for folder in landing.glob("batch=*")), default=0) + 1

    plan = _BatchPlan.from_orders(present[FILE_NAMES["orders"]], batches, seed)
    # Batches are written in a hidden folder, then moved in place whole: a sync running meanwhile never
    # sees half a batch, and a replay that fails leaves nothing behind.
    landing.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".replay-", dir=landing))
    report = ReplayReport(landing, batches, ignored=sorted(set(present) - set(ENTITY_OF_FILE)), first_batch=first_batch)
    try:
        for entity in REPLAY_ORDER:
            path = present.get(FILE_NAMES[entity])
            if path is not None:
                _replay_entity(entity, path, plan, staging, report, seed=seed, late=late, duplicates=duplicates)
        for number in range(1, batches + 1):
            written = staging / batch_folder_name(number)
            if written.exists():
                written.rename(report.batch_folder(number))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


@dataclass
class _BatchPlan:
    """Where orders and customers go, and the purchase time at which each batch starts."""

    batches: int
    seed: int
    order_batch: dict[str, int]
    customer_batch: dict[str, int]
    starts: list[str]  # purchase time of the first order of batches 2..N

    @classmethod
    def from_orders(cls, orders_file: Path, batches: int, seed: int) -> _BatchPlan:
        placed: list[tuple[str, str, str]] = []
        with RawCsvReader(orders_file) as reader:
            order_id, customer_id, purchased = _columns(reader, "order_id", "customer_id", "order_purchase_timestamp")
            seen: set[str] = set()
            for record in reader:
                values = record.values
                if values[order_id] not in seen:  # a repeated order keeps its first place
                    seen.add(values[order_id])
                    placed.append((values[purchased], values[order_id], values[customer_id]))
        # `YYYY-MM-DD HH:MM:SS` sorts as text; the id breaks ties so that the cut is reproducible.
        placed.sort()
        order_batch: dict[str, int] = {}
        customer_batch: dict[str, int] = {}
        starts: list[str] = []
        for rank, (purchased_at, order, customer) in enumerate(placed):
            batch = rank * batches // len(placed)
            if batch == len(starts) + 1:
                starts.append(purchased_at)
            order_batch[order] = batch
            customer_batch.setdefault(customer, batch)  # ranks ascend: the first order sets it
        return cls(batches, seed, order_batch, customer_batch, starts)

    def by_time(self, timestamp: str) -> int:
        return bisect_right(self.starts, timestamp) if timestamp else 0

    def by_hash(self, key: str) -> int:
        return zlib.crc32(f"{self.seed}:{key}".encode()) % self.batches


def _placement(entity: str, reader: RawCsvReader, plan: _BatchPlan) -> Callable[[list[str]], int]:
    """The 0-based batch of a record of ``entity`` (see the module's docstring for the rule)."""
    if entity in REFERENCE_ENTITIES:
        return lambda values: 0
    if entity == "orders":
        (order,) = _columns(reader, "order_id")
        return lambda values: plan.order_batch[values[order]]
    if entity == "customers":
        (customer,) = _columns(reader, "customer_id")
        return lambda values: _known_or(plan.customer_batch, values[customer], plan.by_hash)
    (order,) = _columns(reader, "order_id")
    own_time_column = {"order_items": "shipping_limit_date", "order_reviews": "review_creation_date"}.get(entity)
    if own_time_column is None:
        return lambda values: _known_or(plan.order_batch, values[order], plan.by_hash)
    (own_time,) = _columns(reader, own_time_column)
    return lambda values: _known_or(plan.order_batch, values[order], lambda _: plan.by_time(values[own_time]))


def _known_or(known: dict[str, int], key: str, otherwise: Callable[[str], int]) -> int:
    batch = known.get(key)
    return otherwise(key) if batch is None else batch


def _replay_entity(
    entity: str,
    path: Path,
    plan: _BatchPlan,
    out_dir: Path,
    report: ReplayReport,
    *,
    seed: int,
    late: float,
    duplicates: float,
) -> None:
    batches = plan.batches
    rng = random.Random(f"{seed}:{entity}")
    # Only records before the last batch can come late: raise their odds so that about `late` of all are.
    spread_over_batches = entity not in REFERENCE_ENTITIES
    late_odds = 0.0 if batches == 1 else min(1.0, late * batches / (batches - 1) if spread_over_batches else late)
    with RawCsvReader(path) as reader:
        place = _placement(entity, reader, plan)
        older = _older_order_state(reader) if entity == "orders" else None
        writers = [
            DialectWriter(out_dir / batch_folder_name(number) / path.name, reader) for number in range(1, batches + 1)
        ]
        originals = late_count = duplicate_count = 0
        try:
            for record in reader:
                batch = place(record.values)
                writers[batch].write(record.raw)
                originals += 1
                if batch < batches - 1 and rng.random() < late_odds:
                    delay = 1 + rng.randrange(min(MAX_LATE_DELAY, batches - 1 - batch))
                    stale = older(record) if older else None
                    writers[batch + delay].write(stale or record.raw)
                    late_count += 1
                    report.older_states += stale is not None
                if rng.random() < duplicates:
                    next_batch = batch + 1 if batch < batches - 1 and rng.random() < 0.5 else batch
                    writers[next_batch].write(record.raw)
                    duplicate_count += 1
        finally:
            for writer in writers:
                writer.close()
    report.rows[entity] = [writer.rows for writer in writers]
    report.originals[entity] = originals
    report.late[entity] = late_count
    report.duplicates[entity] = duplicate_count


def order_event_time(values: dict[str, str]) -> str:
    """The greatest non-empty lifecycle timestamp of an order (the dedup rule's event time)."""
    return max((values[column] for column in EVENT_TIME_COLUMNS["orders"] if values[column]), default="")


def older_order_values(values: dict[str, str]) -> dict[str, str] | None:
    """The order as it was one or more lifecycle steps earlier, with an earlier event time; None if none."""
    event_time = order_event_time(values)
    earlier = dict(values)
    for column, status_before in _LIFECYCLE_STEPS:
        if earlier[column]:
            earlier[column] = ""
            earlier["order_status"] = status_before
            if order_event_time(earlier) < event_time:
                return earlier
    return None


def _older_order_state(reader: RawCsvReader) -> Callable[[RawRecord], bytes | None]:
    _columns(reader, "order_status", *EVENT_TIME_COLUMNS["orders"])
    header = reader.header

    def older(record: RawRecord) -> bytes | None:
        earlier = older_order_values(dict(zip(header, record.values, strict=True)))
        if earlier is None:
            return None
        # Each value keeps the quoting it had; a blanked timestamp is simply empty.
        return encode_record([earlier[name] for name in header], quoted_flags(record.raw))

    return older


def _columns(reader: RawCsvReader, *names: str) -> list[int]:
    missing = [name for name in names if name not in reader.header]
    if missing:
        raise FormatError(f"{reader.path.name}: no column {', '.join(missing)} in its header {reader.header}")
    return [reader.header.index(name) for name in names]


def iter_batch_files(landing: Path) -> Iterator[Path]:
    """Every file the replay wrote under ``landing``, batch after batch."""
    for folder in sorted(landing.glob("batch=*")):
        yield from sorted(folder.glob("*.csv"))
