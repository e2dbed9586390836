"""Olist, the Brazilian e-commerce dataset: a seeded generator, a micro-batch replay, a demo landing zone.

``generate_olist`` writes Olist-shaped files whose keys all resolve; ``replay_olist`` splits Olist files
(real or generated) into time-ordered batches with late and duplicate records, for the ``files`` source;
``build_demo_landing`` chains both for ``civiclake demo``.
"""

from civiclake.demo.olist.generate import DEFAULT_SEED, GenerateReport, generate_olist
from civiclake.demo.olist.landing import build_demo_landing
from civiclake.demo.olist.replay import ENTITY_KEYS, EVENT_TIME_COLUMNS, ReplayReport, replay_olist
from civiclake.demo.olist.schema import FILE_NAMES, HEADERS

__all__ = [
    "DEFAULT_SEED",
    "ENTITY_KEYS",
    "EVENT_TIME_COLUMNS",
    "FILE_NAMES",
    "HEADERS",
    "GenerateReport",
    "ReplayReport",
    "build_demo_landing",
    "generate_olist",
    "replay_olist",
]
