"""Throughput of a full ``rest`` sync: ``python -m tests.sources.rest.bench_rest_sync --incidents 50000``.

Starts the incidents service in process, syncs it into a fresh local lakehouse and prints rows per
second for the first (full) extraction and for an incremental one after a day of changes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from civiclake.config import load_settings
from civiclake.demo.incidents import IncidentsServer
from tests.sources.rest.helpers import ingestions, only_outcome, sync


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home, IncidentsServer(incidents=args.incidents) as api:
        settings = load_settings(environ={"CIVICLAKE_HOME": str(Path(home) / "home")})
        settings = settings.with_overrides(**api.settings_overrides()).with_overrides(
            rest={"endpoints": [{"name": "incidents", "page_size": args.page_size}]}
        )
        for label in ("full", "incremental"):
            if label == "incremental":
                api.advance(24)
            started = time.perf_counter()
            outcome = only_outcome(sync(settings))
            seconds = time.perf_counter() - started
            record = ingestions(settings)[-1]
            print(
                f"{label}: {outcome.rows} rows in {seconds:.2f} s = {outcome.rows / seconds:,.0f} rows/s "
                f"(fetch {record['download_seconds']:.2f} s, load {record['load_seconds'] or 0:.2f} s, "
                f"{outcome.bytes / 1e6:.1f} MB NDJSON)"
            )


if __name__ == "__main__":
    main()
