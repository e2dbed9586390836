"""Run the mirror in the foreground: ``python -m civiclake.demo.mirror --port 8765``."""

from __future__ import annotations

import argparse
import signal
import threading

from civiclake.demo.mirror.server import MirrorServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the offline data.gouv.fr mirror until interrupted.")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with MirrorServer(port=args.port) as mirror:
        print(f"CIVICLAKE__DATAGOUV__API_URL={mirror.api_url}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
