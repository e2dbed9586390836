"""The synthetic catalogue the scale benchmark serves: seeded, the same bytes in any process, broken where meant."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

from civiclake.demo.mirror.synthetic import SEARCH_SHARE, SEARCH_TAG, synthetic_dataset

DIGESTS = """
import hashlib, json, sys
from civiclake.demo.mirror.synthetic import synthetic_dataset
found = {rid: hashlib.sha1(data).hexdigest() for i in range(8) for rid, data in synthetic_dataset(3, i).files.items()}
print(json.dumps(found))
"""


def test_the_same_seed_gives_the_same_bytes_in_another_process() -> None:
    files = {rid: data for i in range(8) for rid, data in synthetic_dataset(3, i).files.items()}
    here = {rid: hashlib.sha1(data).hexdigest() for rid, data in files.items()}
    there = json.loads(subprocess.run([sys.executable, "-c", DIGESTS], capture_output=True, check=True).stdout)
    assert there == here
    assert len(here) == 8 * 4 - 1  # dataset 7's last file is missing on purpose


def test_a_new_version_changes_the_first_file_and_its_date_only() -> None:
    first, second = synthetic_dataset(3, 5), synthetic_dataset(3, 5, version=1)
    changed = [rid for rid in first.files if first.files[rid] != second.files[rid]]
    assert changed == [f"{first.dataset['id']}-r0"]
    resources = [(r["id"], r["last_modified"]) for r in first.dataset["resources"]]  # type: ignore[attr-defined]
    later = [(r["id"], r["last_modified"]) for r in second.dataset["resources"]]  # type: ignore[attr-defined]
    assert [a != b for a, b in zip(resources, later, strict=True)] == [True, False, False, False]


def test_broken_resources_and_the_search_tag_are_where_the_benchmark_expects_them() -> None:
    assert synthetic_dataset(3, 7).missing and synthetic_dataset(3, 42).failing
    assert synthetic_dataset(3, 77).files[f"{synthetic_dataset(3, 77).dataset['id']}-r3"].startswith(b"PK")
    tagged = [i for i in range(30) if SEARCH_TAG in synthetic_dataset(3, i).dataset["tags"]]  # type: ignore[operator]
    assert tagged == list(range(0, 30, SEARCH_SHARE))
